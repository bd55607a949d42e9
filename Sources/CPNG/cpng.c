// libpng's full reading API reports errors with longjmp, which Swift cannot
// catch; this file keeps every setjmp on the C side and returns error codes.
#include "cpng.h"

#include <png.h>
#include <limits.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

long cpng_deflate_part(const uint8_t *data, size_t size, int level, int last, uint8_t *out, size_t capacity) {
    if (size > UINT_MAX || capacity > UINT_MAX) return -1;
    z_stream z;
    memset(&z, 0, sizeof z);
    // Raw DEFLATE (negative window bits): the caller writes the zlib header and Adler-32.
    if (deflateInit2(&z, level, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY) != Z_OK) return -1;
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)size;
    z.next_out = out;
    z.avail_out = (uInt)capacity;
    int status = deflate(&z, last ? Z_FINISH : Z_SYNC_FLUSH);
    long written = (long)z.total_out;
    int complete = last ? status == Z_STREAM_END : (status == Z_OK && z.avail_in == 0 && z.avail_out > 0);
    deflateEnd(&z);
    return complete ? written : -1;
}

size_t cpng_deflate_part_bound(size_t size) {
    // zlib's bound for a whole stream, plus the empty stored block a sync flush ends with.
    return compressBound(size) + 16;
}

uint32_t cpng_adler32(const uint8_t *data, size_t size) {
    uLong adler = adler32(0L, Z_NULL, 0);
    while (size > 0) {
        uInt n = size > (1u << 30) ? (1u << 30) : (uInt)size;
        adler = adler32(adler, data, n);
        data += n;
        size -= n;
    }
    return (uint32_t)adler;
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
