#include <lcms2.h>

// lcms2's pixel formats are macros Swift cannot import: named here.
static const cmsUInt32Number CLCMS2_RGB_8 = TYPE_RGB_8;
static const cmsUInt32Number CLCMS2_RGBA_8 = TYPE_RGBA_8;
static const cmsUInt32Number CLCMS2_CMYK_8 = TYPE_CMYK_8;
static const cmsUInt32Number CLCMS2_CMYK_8_REV = TYPE_CMYK_8_REV;
static const cmsUInt32Number CLCMS2_INTENT_PERCEPTUAL = INTENT_PERCEPTUAL;
static const cmsUInt32Number CLCMS2_COPY_ALPHA = cmsFLAGS_COPY_ALPHA;
static const cmsUInt32Number CLCMS2_FLAGS = cmsFLAGS_NOCACHE | cmsFLAGS_BLACKPOINTCOMPENSATION;
