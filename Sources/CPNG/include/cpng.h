#ifndef CPNG_H
#define CPNG_H

#include <stddef.h>
#include <stdint.h>

/// What a PNG header says, after expansion to 8-bit gray, gray+alpha, RGB or RGBA.
typedef struct {
    uint32_t width;
    uint32_t height;
    int channels;
} cpng_info;

/// Reads the header of a PNG held in memory. Returns 0, or -1 with `message` set.
int cpng_probe(const uint8_t *data, size_t size, cpng_info *info, char *message, size_t message_size);

/// Decodes a PNG into `pixels` (exactly width * height * channels bytes, as
/// cpng_probe reports): palettes and low bit depths expanded, tRNS turned
/// into alpha, 16-bit samples scaled to 8 bits with rounding, interlacing
/// undone. Colour-space chunks (gAMA, sRGB, iCCP) are not applied: samples
/// are the stored values. Returns 0, or -1 with `message` set.
int cpng_decode(const uint8_t *data, size_t size, uint8_t *pixels, size_t pixels_size,
                char *message, size_t message_size);

/// Encodes 8-bit pixels (1 to 4 channels) as PNG into a buffer from malloc,
/// to be released with cpng_free. Returns 0, or -1 with `message` set.
int cpng_encode(const uint8_t *pixels, uint32_t width, uint32_t height, int channels,
                uint8_t **out, size_t *out_size, char *message, size_t message_size);

void cpng_free(void *p);

#endif
