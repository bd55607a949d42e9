// libpng's full reading API reports errors with longjmp, which Swift cannot
// catch; this file keeps every setjmp on the C side and returns error codes.
#include "cpng.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/// Sets up reading and the transformations to 8-bit gray, GA, RGB or RGBA.
static void read_header(png_structp png, png_infop info) {
    png_set_read_fn(png, png_get_error_ptr(png), on_read);
    png_read_info(png, info);
    png_set_expand(png);
    png_set_scale_16(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
}

int cpng_probe(const uint8_t *data, size_t size, cpng_info *out, char *message, size_t message_size) {
    reader r = {data, size, 0, message, message_size};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &r, on_error, on_warning);
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

int cpng_decode(const uint8_t *data, size_t size, uint8_t *pixels, size_t pixels_size,
                char *message, size_t message_size) {
    reader r = {data, size, 0, message, message_size};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &r, on_error, on_warning);
    if (!png) { snprintf(message, message_size, "out of memory"); return -1; }
    png_infop info = png_create_info_struct(png);
    png_bytepp volatile rows = NULL;
    if (!info || setjmp(png_jmpbuf(png))) {
        free(rows);
        png_destroy_read_struct(&png, info ? &info : NULL, NULL);
        return -1;
    }
    read_header(png, info);
    png_uint_32 width = png_get_image_width(png, info), height = png_get_image_height(png, info);
    size_t stride = png_get_rowbytes(png, info);
    if (stride * height != pixels_size || png_get_bit_depth(png, info) != 8) {
        png_error(png, "unexpected decoded size");
    }
    rows = malloc(sizeof(png_bytep) * height);
    if (!rows) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < height; y++) rows[y] = pixels + y * stride;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    (void)width;
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    return 0;
}

int cpng_encode(const uint8_t *pixels, uint32_t width, uint32_t height, int channels,
                uint8_t **out, size_t *out_size, char *message, size_t message_size) {
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    image.width = width;
    image.height = height;
    image.format = (channels >= 3 ? PNG_FORMAT_FLAG_COLOR : 0) | (channels == 2 || channels == 4 ? PNG_FORMAT_FLAG_ALPHA : 0);
    size_t size = 0;
    if (!png_image_write_to_memory(&image, NULL, &size, 0, pixels, 0, NULL)) goto fail;
    *out = malloc(size);
    if (!*out) { snprintf(message, message_size, "out of memory"); png_image_free(&image); return -1; }
    if (!png_image_write_to_memory(&image, *out, &size, 0, pixels, 0, NULL)) { free(*out); *out = NULL; goto fail; }
    *out_size = size;
    png_image_free(&image);
    return 0;
fail:
    snprintf(message, message_size, "%s", image.message);
    png_image_free(&image);
    return -1;
}

void cpng_free(void *p) { free(p); }
