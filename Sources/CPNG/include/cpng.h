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

/// A decoder reading rows top to bottom, after expansion to 8-bit gray, GA,
/// RGB or RGBA: palettes and low bit depths expanded, tRNS turned into
/// alpha, 16-bit samples scaled to 8 bits with rounding. Colour-space chunks
/// (gAMA, sRGB, iCCP) are not applied: samples are the stored values.
/// Interlaced images are decoded whole when opened (Adam7 has no row order)
/// and then handed out row by row. The data is not copied: it must outlive
/// the decoder. Calls return 0, or -1 with `message` set; after an error
/// the decoder only accepts cpng_decoder_close.
typedef struct cpng_decoder cpng_decoder;

/// Returns NULL with `message` set on failure.
cpng_decoder *cpng_decoder_open(const uint8_t *data, size_t size, cpng_info *info, char *message, size_t message_size);

/// Reads the next `rows` rows into `out` (rows * width * channels bytes).
int cpng_decoder_read(cpng_decoder *decoder, uint8_t *out, uint32_t rows, char *message, size_t message_size);

/// Decodes and drops the next `rows` rows (PNG rows can only be inflated in order).
int cpng_decoder_skip(cpng_decoder *decoder, uint32_t rows, char *message, size_t message_size);

void cpng_decoder_close(cpng_decoder *decoder);

/// Raw DEFLATE of `size` bytes (libdeflate) as one part of a longer zlib
/// stream, as pigz cuts one: a fresh dictionary, ended as a sync flush ends
/// (byte-aligned, no final block) or, for the stream's last part
/// (`last` != 0), by the final block. `level` is libdeflate's 0-12. Writes at most `capacity` bytes (see
/// cpng_deflate_part_bound) and returns how many, or -1.
long cpng_deflate_part(const uint8_t *data, size_t size, int level, int last, uint8_t *out, size_t capacity);

/// Room enough for cpng_deflate_part of `size` bytes.
size_t cpng_deflate_part_bound(size_t size);

/// Adler-32 of `size` bytes (zlib's, starting from 1).
uint32_t cpng_adler32(const uint8_t *data, size_t size);

/// The Adler-32 of two runs joined, from each run's sum and the second's length.
uint32_t cpng_adler32_combine(uint32_t first, uint32_t second, size_t second_size);

void cpng_free(void *p);

/// The zlib streams of PNG's compressed chunks (iCCP, zTXt, iTXt), not
/// image data. Inflates `size` bytes into at most `limit` bytes (a chunk can
/// claim to inflate to gigabytes). `out` comes from malloc; release with
/// cpng_free. Returns 0, or -1 when the stream is damaged or over the limit.
int cpng_inflate(const uint8_t *data, size_t size, size_t limit, uint8_t **out, size_t *out_size);

/// Deflates `size` bytes into a zlib stream from malloc. Returns 0 or -1.
int cpng_deflate(const uint8_t *data, size_t size, uint8_t **out, size_t *out_size);

/// The CRC-32 that closes every PNG chunk (over its type and data).
uint32_t cpng_crc32(const uint8_t *data, size_t size);

#endif
