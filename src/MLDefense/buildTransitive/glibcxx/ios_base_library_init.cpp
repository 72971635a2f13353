// GCC 13's <iostream> makes every object that includes it reference std::ios_base_library_init() (symbol
// _ZSt21ios_base_library_initv, version GLIBCXX_3.4.32), a marker that pulls in libstdc++'s own initialisation of
// the standard streams. Debian 12's libstdc++ (GCC 12) has no such symbol. This library defines it for TorchSharp's
// libLibTorchSharp.so and does what the marker stands for: it constructs the standard streams before any code of
// that library runs (a std::ios_base::Init object, as every GCC 12 translation unit that includes <iostream> has).
#include <ios>

namespace std {
__attribute__((visibility("default"))) void ios_base_library_init() {}
}

namespace {
std::ios_base::Init streams_ready;
}
