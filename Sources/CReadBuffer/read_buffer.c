// libmosquitto reads a packet in three or four read(2) calls (the type byte, each length byte, the
// body) and one packet per loop turn. At 8,000 one-frame messages a second those calls were over half
// of the daemon's CPU. This buffer serves them from one read of up to 64 KiB. It is handed to the
// libraries that read the broker's socket by rewriting *their* relocation slots for `read` (libmosquitto's,
// and libcrypto's for TLS, whose socket BIO reads the same descriptor): no other library, and not the
// rest of the process, goes through it, and even theirs reach the kernel directly for any other descriptor.
#define _GNU_SOURCE
#include "read_buffer.h"

#include <elf.h>
#include <errno.h>
#include <link.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

static _Atomic int buffered_descriptor = -1;
static unsigned char buffer[65536];
static size_t buffer_start, buffer_end;
static int kernel_drained = 1;
static size_t kernel_reads;

void celldrift_read_buffer_attach(int descriptor) {
    buffer_start = buffer_end = 0;
    kernel_drained = 1;
    atomic_store(&buffered_descriptor, descriptor);
}

size_t celldrift_read_buffer_pending(void) {
    return buffer_end - buffer_start;
}

int celldrift_read_buffer_kernel_drained(void) {
    return kernel_drained;
}

size_t celldrift_read_buffer_kernel_reads(void) {
    return kernel_reads;
}

ssize_t celldrift_buffered_read(int descriptor, void *destination, size_t count) {
    if (descriptor < 0 || descriptor != atomic_load_explicit(&buffered_descriptor, memory_order_relaxed)) {
        return syscall(SYS_read, descriptor, destination, count);
    }
    if (buffer_start == buffer_end) {
        if (count >= sizeof buffer) return syscall(SYS_read, descriptor, destination, count);
        ssize_t received = syscall(SYS_read, descriptor, buffer, sizeof buffer);
        kernel_reads++;
        kernel_drained = received < (ssize_t)sizeof buffer;
        if (received <= 0) return received;
        buffer_start = 0;
        buffer_end = (size_t)received;
    }
    size_t taken = buffer_end - buffer_start < count ? buffer_end - buffer_start : count;
    memcpy(destination, buffer + buffer_start, taken);
    buffer_start += taken;
    return (ssize_t)taken;
}

#if UINTPTR_MAX == 0xffffffffffffffffu
#define RELOCATION_SYMBOL(info) ELF64_R_SYM(info)
#else
#define RELOCATION_SYMBOL(info) ELF32_R_SYM(info)
#endif

struct hook_request {
    const char *library;
    int slots;
};

/// glibc rebases most dynamic-section addresses in place when it loads a library; some ports leave
/// them as offsets.
static uintptr_t absolute(const struct dl_phdr_info *info, uintptr_t address) {
    return address < info->dlpi_addr ? address + info->dlpi_addr : address;
}

/// Points one relocation slot at the buffered read, unprotecting it for the write when it lies in the
/// library's read-only-after-relocation segment (full RELRO).
static void patch(const struct dl_phdr_info *info, uintptr_t slot) {
    uintptr_t relro_start = 0, relro_end = 0;
    for (int index = 0; index < info->dlpi_phnum; index++) {
        if (info->dlpi_phdr[index].p_type == PT_GNU_RELRO) {
            relro_start = info->dlpi_addr + info->dlpi_phdr[index].p_vaddr;
            relro_end = relro_start + info->dlpi_phdr[index].p_memsz;
        }
    }
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t first = slot & ~(page - 1);
    int protected_slot = slot >= relro_start && slot < relro_end;
    if (protected_slot && mprotect((void *)first, page, PROT_READ | PROT_WRITE) != 0) return;
    *(void **)slot = (void *)celldrift_buffered_read;
    if (protected_slot) mprotect((void *)first, page, PROT_READ);
}

static int hook_library(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    struct hook_request *request = data;
    const char *slash = info->dlpi_name ? strrchr(info->dlpi_name, '/') : NULL;
    const char *name = slash ? slash + 1 : info->dlpi_name;
    if (!name || strncmp(name, request->library, strlen(request->library)) != 0) return 0;
    const ElfW(Dyn) *dynamic = NULL;
    for (int index = 0; index < info->dlpi_phnum; index++) {
        if (info->dlpi_phdr[index].p_type == PT_DYNAMIC) dynamic = (const ElfW(Dyn) *)(info->dlpi_addr + info->dlpi_phdr[index].p_vaddr);
    }
    if (!dynamic) return 0;
    const ElfW(Sym) *symbols = NULL;
    const char *names = NULL;
    uintptr_t plt = 0, rela = 0, rel = 0;
    size_t plt_size = 0, rela_size = 0, rel_size = 0;
    long plt_kind = DT_RELA;
    for (const ElfW(Dyn) *entry = dynamic; entry->d_tag != DT_NULL; entry++) {
        switch (entry->d_tag) {
        case DT_SYMTAB: symbols = (const ElfW(Sym) *)absolute(info, entry->d_un.d_ptr); break;
        case DT_STRTAB: names = (const char *)absolute(info, entry->d_un.d_ptr); break;
        case DT_JMPREL: plt = absolute(info, entry->d_un.d_ptr); break;
        case DT_PLTRELSZ: plt_size = entry->d_un.d_val; break;
        case DT_PLTREL: plt_kind = (long)entry->d_un.d_val; break;
        case DT_RELA: rela = absolute(info, entry->d_un.d_ptr); break;
        case DT_RELASZ: rela_size = entry->d_un.d_val; break;
        case DT_REL: rel = absolute(info, entry->d_un.d_ptr); break;
        case DT_RELSZ: rel_size = entry->d_un.d_val; break;
        }
    }
    if (!symbols || !names) return 0;
    // The PLT's slots (lazy or bound) and, for code built without a PLT, the GOT's: each holds `read`'s address.
    const struct { uintptr_t table; size_t size; int with_addend; } tables[] = {
        {plt, plt_size, plt_kind == DT_RELA}, {rela, rela_size, 1}, {rel, rel_size, 0},
    };
    for (size_t table = 0; table < sizeof tables / sizeof tables[0]; table++) {
        size_t entry_size = tables[table].with_addend ? sizeof(ElfW(Rela)) : sizeof(ElfW(Rel));
        for (size_t offset = 0; tables[table].table && offset + entry_size <= tables[table].size; offset += entry_size) {
            const ElfW(Rel) *entry = (const ElfW(Rel) *)(tables[table].table + offset);
            size_t symbol = RELOCATION_SYMBOL(entry->r_info);
            if (symbol == 0 || strcmp(names + symbols[symbol].st_name, "read") != 0) continue;
            patch(info, info->dlpi_addr + entry->r_offset);
            request->slots++;
        }
    }
    return 0;
}

int celldrift_read_buffer_install(const char *library) {
    struct hook_request request = {library, 0};
    dl_iterate_phdr(hook_library, &request);
    return request.slots;
}
