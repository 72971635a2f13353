// Image files through stb (Debian's libstb-dev, header-only): decoding PNG/JPEG/BMP/PPM/PGM from memory and
// encoding PNG. The only translation unit that compiles stb's implementation, so it is defined nowhere else.
#include "mld.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>

// Untrusted files must not make us allocate gigabytes: 16384 pixels a side is far beyond any dataset image.
#define STBI_MAX_DIMENSIONS (1 << 14)
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_WRITE_IMPLEMENTATION
// stb is third-party code compiled in place; its own warnings are not ours to fix.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wall"
#pragma GCC diagnostic ignored "-Wextra"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#include <stb_image.h>
#include <stb_image_write.h>
#pragma GCC diagnostic pop

namespace {

void check_pixels(const uint8_t* pixels, int width, int height, int channels) {
  TORCH_CHECK(pixels != nullptr, "image: no pixel buffer");
  TORCH_CHECK(width > 0 && height > 0, "image: width and height must be positive, got ", width, "x", height);
  TORCH_CHECK(channels >= 1 && channels <= 4, "image: 1 to 4 channels are supported, got ", channels);
}

// stb_image_write hands over the PNG in pieces; they are gathered here, then copied into a malloc'd buffer
// whose ownership passes to the caller (freed by mld_image_free_buffer).
void append_bytes(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<uint8_t>*>(context);
  const auto* bytes = static_cast<const uint8_t*>(data);
  out->insert(out->end(), bytes, bytes + size);
}

}  // namespace

// Reads an image's size and stored channel count without decoding its pixels.
MLD_API int mld_image_info(const uint8_t* data, int64_t length, int* width, int* height, int* channels) {
  MLD_TRY(
    TORCH_CHECK(data != nullptr && length > 0, "image: no data");
    TORCH_CHECK(length <= INT32_MAX, "image: ", length, " bytes is larger than stb can read");
    if (!stbi_info_from_memory(data, static_cast<int>(length), width, height, channels))
      TORCH_CHECK(false, "not a decodable image (", stbi_failure_reason(), ")");
  )
}

// Decodes PNG/JPEG/BMP/PPM/PGM bytes into 8-bit pixels, rows top to bottom, channels interleaved (HWC).
// `channels` 1 (grey), 3 (RGB) or 4 asks stb to convert; 0 keeps the stored count. The pixels belong to the
// caller, who frees them with mld_image_free_pixels.
MLD_API int mld_image_decode(const uint8_t* data, int64_t length, int channels, uint8_t** pixels, int* width, int* height, int* channels_out) {
  MLD_TRY(
    *pixels = nullptr;
    TORCH_CHECK(data != nullptr && length > 0, "image: no data");
    TORCH_CHECK(length <= INT32_MAX, "image: ", length, " bytes is larger than stb can read");
    TORCH_CHECK(channels >= 0 && channels <= 4, "image: the requested channel count must be 0 (as stored) or 1 to 4, got ", channels);
    int stored = 0;
    uint8_t* decoded = stbi_load_from_memory(data, static_cast<int>(length), width, height, &stored, channels);
    if (decoded == nullptr) TORCH_CHECK(false, "not a decodable image (", stbi_failure_reason(), ")");
    *pixels = decoded;
    *channels_out = channels == 0 ? stored : channels;
  )
}

MLD_API void mld_image_free_pixels(uint8_t* pixels) { stbi_image_free(pixels); }

// Encodes HWC 8-bit pixels as PNG into a new buffer the caller frees with mld_image_free_buffer.
MLD_API int mld_image_encode_png(const uint8_t* pixels, int width, int height, int channels, uint8_t** png, int64_t* png_length) {
  MLD_TRY(
    *png = nullptr;
    *png_length = 0;
    check_pixels(pixels, width, height, channels);
    std::vector<uint8_t> bytes;
    if (!stbi_write_png_to_func(append_bytes, &bytes, width, height, channels, pixels, width * channels))
      TORCH_CHECK(false, "image: PNG encoding failed");
    auto* buffer = static_cast<uint8_t*>(std::malloc(bytes.size()));
    TORCH_CHECK(buffer != nullptr, "image: out of memory for a ", bytes.size(), "-byte PNG");
    std::memcpy(buffer, bytes.data(), bytes.size());
    *png = buffer;
    *png_length = static_cast<int64_t>(bytes.size());
  )
}

MLD_API void mld_image_free_buffer(uint8_t* buffer) { std::free(buffer); }

// Writes HWC 8-bit pixels to a PNG file (path in UTF-8).
MLD_API int mld_image_write_png(const char* path, const uint8_t* pixels, int width, int height, int channels) {
  MLD_TRY(
    TORCH_CHECK(path != nullptr && *path != '\0', "image: no file path");
    check_pixels(pixels, width, height, channels);
    errno = 0;
    if (!stbi_write_png(path, width, height, channels, pixels, width * channels))
      TORCH_CHECK(false, "cannot write PNG file '", path, "'", errno != 0 ? std::string(": ") + std::strerror(errno) : std::string());
  )
}
