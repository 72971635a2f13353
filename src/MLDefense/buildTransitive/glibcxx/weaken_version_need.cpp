// Marks one version requirement of an ELF64 shared library weak (VER_FLG_WEAK in its Elf64_Vernaux), in place:
//   weaken_version_need FILE VERSION
// The dynamic loader refuses a library that needs a symbol version its dependency lacks unless the need is weak;
// patchelf 0.14 can clear a symbol's version but cannot remove the need itself, which stays in .gnu.version_r.
// Exit codes: 0 done (or already weak), 1 the file or the version was not found, 2 usage.
#include <elf.h>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

int main(int argc, char** argv) {
    if (argc != 3) { std::fprintf(stderr, "usage: weaken_version_need FILE VERSION\n"); return 2; }
    std::ifstream in(argv[1], std::ios::binary);
    if (!in) { std::fprintf(stderr, "weaken_version_need: cannot read %s\n", argv[1]); return 1; }
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    in.close();
    auto fits = [&](size_t offset, size_t size) { return offset <= bytes.size() && size <= bytes.size() - offset; };
    if (!fits(0, sizeof(Elf64_Ehdr)) || std::memcmp(bytes.data(), ELFMAG, SELFMAG) != 0 || bytes[EI_CLASS] != ELFCLASS64) {
        std::fprintf(stderr, "weaken_version_need: %s is not an ELF64 file\n", argv[1]); return 1;
    }
    auto* header = reinterpret_cast<Elf64_Ehdr*>(bytes.data());
    if (!fits(header->e_shoff, size_t(header->e_shnum) * sizeof(Elf64_Shdr))) { std::fprintf(stderr, "weaken_version_need: bad section table\n"); return 1; }
    auto* sections = reinterpret_cast<Elf64_Shdr*>(bytes.data() + header->e_shoff);
    for (int s = 0; s < header->e_shnum; s++) {
        if (sections[s].sh_type != SHT_GNU_verneed || sections[s].sh_link >= header->e_shnum) continue;
        const Elf64_Shdr& strings = sections[sections[s].sh_link];
        size_t need = sections[s].sh_offset;
        for (unsigned n = 0; n < sections[s].sh_info && fits(need, sizeof(Elf64_Verneed)); n++) {
            auto* verneed = reinterpret_cast<Elf64_Verneed*>(bytes.data() + need);
            size_t aux = need + verneed->vn_aux;
            for (unsigned a = 0; a < verneed->vn_cnt && fits(aux, sizeof(Elf64_Vernaux)); a++) {
                auto* vernaux = reinterpret_cast<Elf64_Vernaux*>(bytes.data() + aux);
                size_t name = strings.sh_offset + vernaux->vna_name;
                if (fits(name, std::strlen(argv[2]) + 1) && std::strcmp(bytes.data() + name, argv[2]) == 0) {
                    if (vernaux->vna_flags & VER_FLG_WEAK) return 0;
                    vernaux->vna_flags |= VER_FLG_WEAK;
                    std::ofstream out(argv[1], std::ios::binary | std::ios::trunc);
                    out.write(bytes.data(), std::streamsize(bytes.size()));
                    if (!out) { std::fprintf(stderr, "weaken_version_need: cannot write %s\n", argv[1]); return 1; }
                    return 0;
                }
                if (vernaux->vna_next == 0) break;
                aux += vernaux->vna_next;
            }
            if (verneed->vn_next == 0) break;
            need += verneed->vn_next;
        }
    }
    std::fprintf(stderr, "weaken_version_need: %s needs no version %s\n", argv[1], argv[2]);
    return 1;
}
