// libjpeg reports errors with longjmp, which Swift cannot catch; this file
// keeps every setjmp on the C side and returns error codes, as cpng.c does.
#include "cjpeg.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

typedef struct {
    struct jpeg_error_mgr base;
    jmp_buf jump;
    char text[JMSG_LENGTH_MAX];
} error_mgr;

static void on_error(j_common_ptr cinfo) {
    error_mgr *e = (error_mgr *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->text);
    longjmp(e->jump, 1);
}

// Warnings (corrupt or missing data that libjpeg would fill in) stop decoding too.
static void on_message(j_common_ptr cinfo, int level) {
    if (level < 0) on_error(cinfo);
}

/// A progressive JPEG can hold thousands of scans, each a pass over the whole
/// image: past this many it is refused (TurboJPEG's TJFLAG_LIMITSCANS limit).
enum { MAX_SCANS = 500 };

static void on_progress(j_common_ptr cinfo) {
    if (cinfo->is_decompressor && ((j_decompress_ptr)cinfo)->input_scan_number > MAX_SCANS) {
        error_mgr *e = (error_mgr *)cinfo->err;
        snprintf(e->text, sizeof e->text, "the file has more than %d scans", MAX_SCANS);
        longjmp(e->jump, 1);
    }
}

static struct jpeg_progress_mgr progress = {on_progress, 0, 0, 0, 0};

static void init_errors(error_mgr *e) {
    jpeg_std_error(&e->base);
    e->base.error_exit = on_error;
    e->base.emit_message = on_message;
    e->text[0] = 0;
}

static void copy_message(const error_mgr *e, char *message, size_t size) {
    if (message && size) snprintf(message, size, "%s", e->text[0] ? e->text : "unknown libjpeg error");
}

/// After jpeg_calc_output_dimensions: the size decoding gives, scaled.
static void fill_info(const struct jpeg_decompress_struct *d, cjpeg_info *info) {
    info->width = d->output_width;
    info->height = d->output_height;
    int cmyk = d->jpeg_color_space == JCS_CMYK || d->jpeg_color_space == JCS_YCCK;
    info->channels = d->num_components == 1 ? 1 : cmyk ? 4 : 3;
    info->inverted = d->saw_Adobe_marker ? 1 : 0;
    info->color_space = (int)d->jpeg_color_space;
    info->precision = d->data_precision;
    info->progressive = d->progressive_mode ? 1 : 0;
}

int cjpeg_probe(const uint8_t *data, size_t size, int scale_denom, cjpeg_info *info, char *message, size_t message_size) {
    struct jpeg_decompress_struct d;
    error_mgr e;
    init_errors(&e);
    d.err = &e.base;
    if (setjmp(e.jump)) {
        copy_message(&e, message, message_size);
        jpeg_destroy_decompress(&d);
        return -1;
    }
    jpeg_create_decompress(&d);
    jpeg_mem_src(&d, data, (unsigned long)size);
    jpeg_read_header(&d, TRUE);
    d.scale_num = 1;
    d.scale_denom = (unsigned int)scale_denom;
    jpeg_calc_output_dimensions(&d);
    fill_info(&d, info);
    jpeg_destroy_decompress(&d);
    return 0;
}

struct cjpeg_decoder {
    struct jpeg_decompress_struct d;
    error_mgr e;
    struct jpeg_progress_mgr progress;
    uint32_t row_bytes;
};

/// A source of two parts read one after the other (a header, then entropy-coded
/// data taken from elsewhere in the file); past their end, a warning and a
/// fake EOI, as jpeg_mem_src does.
typedef struct {
    struct jpeg_source_mgr base;
    const uint8_t *second;
    size_t second_size;
    int on_second;
} parts_source;

static void parts_init(j_decompress_ptr d) { (void)d; }
static void parts_term(j_decompress_ptr d) { (void)d; }

static boolean parts_fill(j_decompress_ptr d) {
    parts_source *s = (parts_source *)d->src;
    if (!s->on_second && s->second_size > 0) {
        s->on_second = 1;
        s->base.next_input_byte = s->second;
        s->base.bytes_in_buffer = s->second_size;
        return TRUE;
    }
    static const JOCTET eoi[2] = {0xFF, JPEG_EOI};
    WARNMS(d, JWRN_JPEG_EOF);
    s->base.next_input_byte = eoi;
    s->base.bytes_in_buffer = 2;
    return TRUE;
}

static void parts_skip(j_decompress_ptr d, long count) {
    struct jpeg_source_mgr *s = d->src;
    while (count > (long)s->bytes_in_buffer) {
        count -= (long)s->bytes_in_buffer;
        (void)parts_fill(d);
    }
    s->next_input_byte += count;
    s->bytes_in_buffer -= (size_t)count;
}

cjpeg_decoder *cjpeg_decoder_open(const uint8_t *data, size_t size, int scale_denom, cjpeg_info *info,
                                  char *message, size_t message_size) {
    return cjpeg_decoder_open_parts(data, size, NULL, 0, scale_denom, info, message, message_size);
}

cjpeg_decoder *cjpeg_decoder_open_parts(const uint8_t *head, size_t head_size, const uint8_t *body, size_t body_size,
                                        int scale_denom, cjpeg_info *info, char *message, size_t message_size) {
    cjpeg_decoder *decoder = calloc(1, sizeof *decoder);
    if (!decoder) {
        snprintf(message, message_size, "out of memory");
        return NULL;
    }
    init_errors(&decoder->e);
    decoder->d.err = &decoder->e.base;
    if (setjmp(decoder->e.jump)) {
        copy_message(&decoder->e, message, message_size);
        jpeg_destroy_decompress(&decoder->d);
        free(decoder);
        return NULL;
    }
    jpeg_create_decompress(&decoder->d);
    decoder->progress = progress;
    decoder->d.progress = &decoder->progress;
    parts_source *source = (parts_source *)(*decoder->d.mem->alloc_small)((j_common_ptr)&decoder->d, JPOOL_PERMANENT,
                                                                          sizeof(parts_source));
    source->base.init_source = parts_init;
    source->base.fill_input_buffer = parts_fill;
    source->base.skip_input_data = parts_skip;
    source->base.resync_to_restart = jpeg_resync_to_restart;
    source->base.term_source = parts_term;
    source->base.next_input_byte = head;
    source->base.bytes_in_buffer = head_size;
    source->second = body;
    source->second_size = body_size;
    source->on_second = 0;
    decoder->d.src = &source->base;
    jpeg_read_header(&decoder->d, TRUE);
    decoder->d.scale_num = 1;
    decoder->d.scale_denom = (unsigned int)scale_denom;
    if (decoder->d.jpeg_color_space == JCS_CMYK || decoder->d.jpeg_color_space == JCS_YCCK) {
        decoder->d.out_color_space = JCS_CMYK;
    } else {
        decoder->d.out_color_space = decoder->d.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    }
    jpeg_start_decompress(&decoder->d);
    fill_info(&decoder->d, info);
    decoder->row_bytes = decoder->d.output_width * (uint32_t)decoder->d.output_components;
    return decoder;
}

int cjpeg_decoder_skip(cjpeg_decoder *decoder, uint32_t rows, char *message, size_t message_size) {
    if (setjmp(decoder->e.jump)) {
        copy_message(&decoder->e, message, message_size);
        return -1;
    }
    if (rows > decoder->d.output_height - decoder->d.output_scanline) {
        strcpy(decoder->e.text, "skipping beyond the last row");
        longjmp(decoder->e.jump, 1);
    }
    while (rows > 0) {
        JDIMENSION skipped = jpeg_skip_scanlines(&decoder->d, rows);
        if (skipped == 0) {
            strcpy(decoder->e.text, "could not skip rows");
            longjmp(decoder->e.jump, 1);
        }
        rows -= skipped;
    }
    return 0;
}

int cjpeg_decoder_read(cjpeg_decoder *decoder, uint8_t *out, uint32_t rows, char *message, size_t message_size) {
    if (setjmp(decoder->e.jump)) {
        copy_message(&decoder->e, message, message_size);
        return -1;
    }
    if (rows > decoder->d.output_height - decoder->d.output_scanline) {
        strcpy(decoder->e.text, "reading beyond the last row");
        longjmp(decoder->e.jump, 1);
    }
    JSAMPROW pointers[16];
    while (rows > 0) {
        JDIMENSION n = rows < 16 ? rows : 16;
        for (JDIMENSION i = 0; i < n; i++) pointers[i] = out + (size_t)i * decoder->row_bytes;
        JDIMENSION got = jpeg_read_scanlines(&decoder->d, pointers, n);
        if (got == 0) {
            strcpy(decoder->e.text, "the decoder gave no rows");
            longjmp(decoder->e.jump, 1);
        }
        out += (size_t)got * decoder->row_bytes;
        rows -= got;
    }
    return 0;
}

void cjpeg_decoder_close(cjpeg_decoder *decoder) {
    if (!decoder) return;
    jpeg_destroy_decompress(&decoder->d);
    free(decoder);
}

int cjpeg_encode(const uint8_t *pixels, uint32_t width, uint32_t height, int channels, int quality,
                 uint8_t **out, size_t *out_size, char *message, size_t message_size) {
    struct jpeg_compress_struct c;
    error_mgr e;
    init_errors(&e);
    c.err = &e.base;
    // Room for most results up front, so the memory destination rarely grows.
    unsigned long size = (unsigned long)width * height * (unsigned long)channels / 4 + 65536;
    unsigned char *volatile buffer = malloc(size);
    if (!buffer) {
        snprintf(message, message_size, "out of memory");
        return -1;
    }
    if (setjmp(e.jump)) {
        copy_message(&e, message, message_size);
        jpeg_destroy_compress(&c);
        free(buffer);
        return -1;
    }
    jpeg_create_compress(&c);
    unsigned char *dest = buffer;
    jpeg_mem_dest(&c, &dest, &size);
    c.image_width = width;
    c.image_height = height;
    c.input_components = channels;
    c.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality, TRUE);
    c.optimize_coding = FALSE;
    c.restart_in_rows = 1;
    if (channels != 1) {
        // 4:2:0: luma 2x2, chroma 1x1 (libjpeg's default, stated so it cannot drift).
        c.comp_info[0].h_samp_factor = 2;
        c.comp_info[0].v_samp_factor = 2;
        c.comp_info[1].h_samp_factor = c.comp_info[1].v_samp_factor = 1;
        c.comp_info[2].h_samp_factor = c.comp_info[2].v_samp_factor = 1;
    }
    jpeg_start_compress(&c, TRUE);
    const size_t row_bytes = (size_t)width * (size_t)channels;
    JSAMPROW pointers[16];
    while (c.next_scanline < c.image_height) {
        JDIMENSION n = c.image_height - c.next_scanline;
        if (n > 16) n = 16;
        for (JDIMENSION i = 0; i < n; i++) pointers[i] = (JSAMPROW)(pixels + (size_t)(c.next_scanline + i) * row_bytes);
        jpeg_write_scanlines(&c, pointers, n);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    // When the result outgrew our buffer, libjpeg moved it to one of its own.
    if (dest != buffer) free(buffer);
    *out = dest;
    *out_size = size;
    return 0;
}

void cjpeg_free(void *p) { free(p); }
