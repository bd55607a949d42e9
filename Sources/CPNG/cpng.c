// libpng's full reading API reports errors with longjmp, which Swift cannot
// catch; this file keeps every setjmp on the C side and returns error codes.
#include "cpng.h"

#include <png.h>
#include <limits.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libdeflate.h>
#include <zlib.h>

typedef struct {
    const uint8_t *data;
    size_t size;
    size_t offset;
    char *message;
    size_t message_size;
} reader;

static void on_error(png_structp png, png_const_charp text) {
    reader *r = (reader *)png_get_error_ptr(png);
    if (r && r->message && r->message_size) snprintf(r->message, r->message_size, "%s", text);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp text) {
    (void)png;
    (void)text; // damaged ancillary chunks are skipped; the image itself is fine
}

static void on_read(png_structp png, png_bytep out, size_t length) {
    reader *r = (reader *)png_get_io_ptr(png);
    if (length > r->size - r->offset) png_error(png, "truncated: read beyond the end of the data");
    memcpy(out, r->data + r->offset, length);
    r->offset += length;
}

// libpng allocates (and zero-fills) a chunk's claimed length before reading it,
// so a 60-byte file claiming a 1 GB text chunk costs seconds. No single
// allocation libpng makes for a valid image comes near this: refused, the
// chunk is skipped (ancillary) or the file refused (critical), at once.
static png_voidp limited_malloc(png_structp png, png_alloc_size_t size) {
    (void)png;
    return size > ((png_alloc_size_t)32 << 20) ? NULL : malloc(size);
}

static void limited_free(png_structp png, png_voidp p) {
    (void)png;
    free(p);
}

static png_structp create_reader(reader *r) {
    return png_create_read_struct_2(PNG_LIBPNG_VER_STRING, r, on_error, on_warning, NULL, limited_malloc, limited_free);
}

/// Sets up reading and the transformations to 8-bit gray, GA, RGB or RGBA.
static void read_header(png_structp png, png_infop info) {
    png_set_read_fn(png, png_get_error_ptr(png), on_read);
    // Text is never used: skip it unread (a zTXt chunk can inflate to gigabytes).
    static const png_byte text[] = {'t', 'E', 'X', 't', 0, 'z', 'T', 'X', 't', 0, 'i', 'T', 'X', 't', 0};
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, text, 3);
    // At most 128 ancillary chunks kept, none over 8 MB.
    png_set_chunk_cache_max(png, 128);
    png_set_chunk_malloc_max(png, 8 << 20);
    png_read_info(png, info);
    png_set_expand(png);
    png_set_scale_16(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
}

int cpng_probe(const uint8_t *data, size_t size, cpng_info *out, char *message, size_t message_size) {
    reader r = {data, size, 0, message, message_size};
    png_structp png = create_reader(&r);
    if (!png) { snprintf(message, message_size, "out of memory"); return -1; }
    png_infop info = png_create_info_struct(png);
    if (!info || setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, info ? &info : NULL, NULL);
        return -1;
    }
    read_header(png, info);
    out->width = png_get_image_width(png, info);
    out->height = png_get_image_height(png, info);
    out->channels = png_get_channels(png, info);
    png_destroy_read_struct(&png, &info, NULL);
    return 0;
}

struct cpng_decoder {
    reader r;
    png_structp png;
    png_infop info;
    uint32_t height;
    uint32_t next;
    size_t stride;
    uint8_t *whole;   // interlaced images only: every row, decoded at open
    int failed;
};

cpng_decoder *cpng_decoder_open(const uint8_t *data, size_t size, cpng_info *out, char *message, size_t message_size) {
    cpng_decoder *d = calloc(1, sizeof *d);
    if (!d) { snprintf(message, message_size, "out of memory"); return NULL; }
    d->r = (reader){data, size, 0, message, message_size};
    d->png = create_reader(&d->r);
    if (!d->png) { snprintf(message, message_size, "out of memory"); free(d); return NULL; }
    d->info = png_create_info_struct(d->png);
    png_bytepp volatile rows = NULL;
    if (!d->info || setjmp(png_jmpbuf(d->png))) {
        free(rows);
        cpng_decoder_close(d);
        return NULL;
    }
    read_header(d->png, d->info);
    out->width = png_get_image_width(d->png, d->info);
    out->height = png_get_image_height(d->png, d->info);
    out->channels = png_get_channels(d->png, d->info);
    d->height = out->height;
    d->stride = png_get_rowbytes(d->png, d->info);
    if (png_get_bit_depth(d->png, d->info) != 8 || d->stride != (size_t)out->width * (size_t)out->channels) {
        png_error(d->png, "unexpected decoded row size");
    }
    if (png_get_interlace_type(d->png, d->info) != PNG_INTERLACE_NONE) {
        d->whole = malloc(d->stride * d->height);
        rows = malloc(sizeof(png_bytep) * d->height);
        if (!d->whole || !rows) png_error(d->png, "out of memory");
        for (png_uint_32 y = 0; y < d->height; y++) rows[y] = d->whole + y * d->stride;
        png_read_image(d->png, rows);
        png_read_end(d->png, NULL);
        free(rows);
    }
    return d;
}

static int advance(cpng_decoder *d, uint8_t *out, uint32_t count, char *message, size_t message_size) {
    d->r.message = message;
    d->r.message_size = message_size;
    if (d->failed) { snprintf(message, message_size, "the decoder failed earlier"); return -1; }
    if (count > d->height - d->next) { snprintf(message, message_size, "reading beyond the last row"); return -1; }
    uint8_t *volatile scratch = NULL;
    if (setjmp(png_jmpbuf(d->png))) {
        free(scratch);
        d->failed = 1;
        return -1;
    }
    if (!out && !d->whole) {
        scratch = malloc(d->stride);
        if (!scratch) png_error(d->png, "out of memory");
    }
    for (uint32_t i = 0; i < count; i++, d->next++) {
        uint8_t *row = out ? out + (size_t)i * d->stride : scratch;
        if (d->whole) {
            if (out) memcpy(row, d->whole + (size_t)d->next * d->stride, d->stride);
        } else {
            png_read_row(d->png, row, NULL);
        }
    }
    // Past the last row, the rest of the file is checked too (a truncated end is an error).
    if (!d->whole && d->next == d->height && count > 0) png_read_end(d->png, NULL);
    free(scratch);
    return 0;
}

int cpng_decoder_read(cpng_decoder *d, uint8_t *out, uint32_t rows, char *message, size_t message_size) {
    return advance(d, out, rows, message, message_size);
}

int cpng_decoder_skip(cpng_decoder *d, uint32_t rows, char *message, size_t message_size) {
    return advance(d, NULL, rows, message, message_size);
}

void cpng_decoder_close(cpng_decoder *d) {
    if (!d) return;
    png_destroy_read_struct(&d->png, d->info ? &d->info : NULL, NULL);
    free(d->whole);
    free(d);
}

/* Where a raw DEFLATE stream's last block starts and where the stream ends.
   libdeflate compresses whole buffers into complete streams and does not say
   where its blocks begin, so zlib's inflate walks them (Z_BLOCK stops at each
   block boundary, as zlib's gzjoin example does). Checks that the stream
   inflates to `size` bytes over exactly its `n` bytes. Returns 0 with the
   last block's header at byte *header_byte, bit *header_bit, and *unused
   padding bits in the stream's last byte; -1 otherwise. */
static int walk_blocks(const uint8_t *stream, size_t n, size_t size, size_t *header_byte, int *header_bit, int *unused) {
    if (n > UINT_MAX) return -1;
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, -15) != Z_OK) return -1;
    enum { scratch_size = 1 << 16 };
    uint8_t *scratch = malloc(scratch_size);
    int found = -1;
    size_t block_byte = 0;
    int block_bit = 0;
    z.next_in = (Bytef *)stream;
    z.avail_in = (uInt)n;
    while (scratch) {
        z.next_out = scratch;
        z.avail_out = scratch_size;
        int status = inflate(&z, Z_BLOCK);
        if (status != Z_OK && status != Z_BUF_ERROR) break;
        if (status == Z_BUF_ERROR && z.avail_out != 0) break;   // input ended inside a block
        if (!(z.data_type & 128)) continue;                       // output full, inside a block
        size_t used = (size_t)(z.next_in - stream);
        int bits = z.data_type & 7;                                // unused in the last byte taken
        if (z.data_type & 64) {                                    // the final block has ended
            if (used == n && z.total_out == size) {
                *header_byte = block_byte;
                *header_bit = block_bit;
                *unused = bits;
                found = 0;
            }
            break;
        }
        // The next block's header follows the bits taken.
        block_byte = bits ? used - 1 : used;
        block_bit = bits ? 8 - bits : 0;
    }
    free(scratch);
    inflateEnd(&z);
    return found;
}

long cpng_deflate_part(const uint8_t *data, size_t size, int level, int last, uint8_t *out, size_t capacity) {
    if (capacity < 5 || level < 0 || level > 12) return -1;
    struct libdeflate_compressor *c = libdeflate_alloc_compressor(level);
    if (!c) return -1;
    // Room kept for the empty stored block a part that does not end the stream needs.
    size_t n = libdeflate_deflate_compress(c, data, size, out, capacity - 5);
    libdeflate_free_compressor(c);
    if (n == 0) return -1;
    if (last) return (long)n;
    // Let the next part follow, as a sync flush would: the last block stops
    // being final, and an empty stored block (header 000, then LEN 0, NLEN
    // 0xFFFF from a byte boundary) ends the part on a byte boundary.
    size_t header_byte;
    int header_bit, unused;
    if (walk_blocks(out, n, size, &header_byte, &header_bit, &unused) != 0) return -1;
    out[header_byte] &= (uint8_t)~(1u << header_bit);
    out[n - 1] &= (uint8_t)((1u << (8 - unused)) - 1);     // padding bits to zero: the stored header
    if (unused < 3) out[n++] = 0;                           // the header needs bits of one more byte
    out[n++] = 0; out[n++] = 0; out[n++] = 0xFF; out[n++] = 0xFF;
    return (long)n;
}

size_t cpng_deflate_part_bound(size_t size) {
    // libdeflate's bound for any level, plus the empty stored block a part ends with.
    return libdeflate_deflate_compress_bound(NULL, size) + 16;
}

uint32_t cpng_adler32(const uint8_t *data, size_t size) {
    // libdeflate's: vectorised, several times zlib's speed.
    return libdeflate_adler32(1, data, size);
}

uint32_t cpng_adler32_combine(uint32_t first, uint32_t second, size_t second_size) {
    return (uint32_t)adler32_combine(first, second, (z_off_t)second_size);
}

void cpng_free(void *p) { free(p); }

int cpng_inflate(const uint8_t *data, size_t size, size_t limit, uint8_t **out, size_t *out_size) {
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit(&z) != Z_OK) return -1;
    size_t capacity = size * 4 + 1024 < limit ? size * 4 + 1024 : limit;
    uint8_t *buffer = malloc(capacity ? capacity : 1);
    int status = Z_OK;
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)size;
    while (buffer && status == Z_OK) {
        if (z.total_out == capacity) {
            if (capacity >= limit) break;
            size_t grown = capacity * 2 < limit ? capacity * 2 : limit;
            uint8_t *bigger = realloc(buffer, grown);
            if (!bigger) break;
            buffer = bigger;
            capacity = grown;
        }
        z.next_out = buffer + z.total_out;
        z.avail_out = (uInt)(capacity - z.total_out);
        status = inflate(&z, Z_NO_FLUSH);
    }
    inflateEnd(&z);
    if (status != Z_STREAM_END) { free(buffer); return -1; }
    *out = buffer;
    *out_size = z.total_out;
    return 0;
}

int cpng_deflate(const uint8_t *data, size_t size, uint8_t **out, size_t *out_size) {
    uLongf length = compressBound(size);
    uint8_t *buffer = malloc(length);
    if (!buffer || compress2(buffer, &length, data, size, Z_BEST_COMPRESSION) != Z_OK) { free(buffer); return -1; }
    *out = buffer;
    *out_size = length;
    return 0;
}

uint32_t cpng_crc32(const uint8_t *data, size_t size) { return (uint32_t)crc32(0L, data, (uInt)size); }
