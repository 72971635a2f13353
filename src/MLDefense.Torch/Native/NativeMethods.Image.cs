using System.Runtime.InteropServices;

namespace MLDefense.Torch.Native;

// Image files (stb): see src/MLDefense.Native/src/image.cpp. Status 0 = success; on failure mld_last_error says why.
internal static partial class NativeMethods
{
    [DllImport(Lib)] internal static extern unsafe int mld_image_info(byte* data, long length, out int width, out int height, out int channels);
    [DllImport(Lib)] internal static extern unsafe int mld_image_decode(byte* data, long length, int channels, out IntPtr pixels, out int width, out int height, out int channelsOut);
    [DllImport(Lib)] internal static extern void mld_image_free_pixels(IntPtr pixels);
    [DllImport(Lib)] internal static extern unsafe int mld_image_encode_png(byte* pixels, int width, int height, int channels, out IntPtr png, out long pngLength);
    [DllImport(Lib)] internal static extern void mld_image_free_buffer(IntPtr buffer);
    [DllImport(Lib)] internal static extern unsafe int mld_image_write_png([MarshalAs(UnmanagedType.LPUTF8Str)] string path, byte* pixels, int width, int height, int channels);
}
