#include <png.h>

/// PNG_IMAGE_SIZE is a macro; Swift cannot import it.
static inline size_t cpng_image_row_stride(const png_image *image) {
    return PNG_IMAGE_ROW_STRIDE(*image);
}

/// Whether libpng's simplified API reported an error (not just a warning).
static inline int cpng_image_failed(const png_image *image) {
    return PNG_IMAGE_FAILED(*image);
}
