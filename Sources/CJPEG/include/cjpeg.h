#ifndef CJPEG_H
#define CJPEG_H

#include <stddef.h>
#include <stdint.h>

/// What a JPEG header says. `channels` is what decoding gives: 1 (gray),
/// 3 (RGB) or 4 (CMYK, for CMYK and YCCK files); `color_space` is libjpeg's
/// J_COLOR_SPACE of the file; `precision` is the sample precision in bits;
/// `inverted` is set when an Adobe marker says CMYK is stored inverted.
typedef struct {
    uint32_t width;
    uint32_t height;
    int channels;
    int color_space;
    int precision;
    int progressive;
    int inverted;
} cjpeg_info;

/// J_COLOR_SPACE values callers need (jpeglib.h is not exposed to Swift).
enum { CJPEG_CMYK = 4, CJPEG_YCCK = 5 };

/// A decoder reading rows top to bottom. The data is not copied: it must
/// outlive the decoder. Every call returns 0, or -1 with `message` set;
/// after an error the decoder only accepts cjpeg_decoder_close.
/// Warnings (corrupt data the library would paper over) are errors: a
/// partly made-up image is never returned.
typedef struct cjpeg_decoder cjpeg_decoder;

/// Reads the header only (no pixels, no scans). Returns 0 or -1.
/// `scale_denom` 1, 2, 4 or 8 gives the size of a decode shrunk by that
/// factor in the DCT domain (libjpeg's scale_denom; sizes round up).
int cjpeg_probe(const uint8_t *data, size_t size, int scale_denom, cjpeg_info *info, char *message, size_t message_size);

/// Opens a decoder and starts decompression (for progressive files this
/// reads every scan), shrinking by `scale_denom` (1, 2, 4 or 8) in the DCT domain.
/// Returns NULL with `message` set on failure.
cjpeg_decoder *cjpeg_decoder_open(const uint8_t *data, size_t size, int scale_denom, cjpeg_info *info,
                                  char *message, size_t message_size);

/// As cjpeg_decoder_open, over a file given in two parts read one after the
/// other: `head` (markers and tables up to the scan's data) and `body`
/// (entropy-coded data to EOI). Neither is copied.
cjpeg_decoder *cjpeg_decoder_open_parts(const uint8_t *head, size_t head_size, const uint8_t *body, size_t body_size,
                                        int scale_denom, cjpeg_info *info, char *message, size_t message_size);

/// Skips `rows` rows (entropy-decoded, not converted). Rows read after a skip
/// equal the same rows of a full decode.
int cjpeg_decoder_skip(cjpeg_decoder *decoder, uint32_t rows, char *message, size_t message_size);

/// Reads the next `rows` rows into `out` (rows * width * channels bytes).
int cjpeg_decoder_read(cjpeg_decoder *decoder, uint8_t *out, uint32_t rows, char *message, size_t message_size);

void cjpeg_decoder_close(cjpeg_decoder *decoder);

/// Encodes 8-bit gray or RGB pixels as baseline JPEG: 4:2:0 chroma, fixed
/// (standard) Huffman tables and a restart marker after every MCU row, so
/// that images cut at multiples of 16 rows encode to pieces that join into
/// the whole image's bytes. `out` comes from malloc; release with cjpeg_free.
int cjpeg_encode(const uint8_t *pixels, uint32_t width, uint32_t height, int channels, int quality,
                 uint8_t **out, size_t *out_size, char *message, size_t message_size);

void cjpeg_free(void *p);

#endif
