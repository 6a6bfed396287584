// libmosquitto reads a packet in three or four read(2) calls (the type byte, each length byte, the
// body) and one packet per loop turn. At 8,000 one-frame messages a second those calls were over half
// of the daemon's CPU. This file defines read(2) for the process: on the one socket attached, a read
// takes what is buffered or fills the buffer with one read of up to 64 KiB; every other descriptor
// goes straight to the kernel. libmosquitto (and OpenSSL's socket BIO under TLS) resolve `read` to
// the executable's definition first, so they are buffered without knowing it.
#define _GNU_SOURCE
#include "read_buffer.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

static _Atomic int buffered_descriptor = -1;
static unsigned char buffer[65536];
static size_t buffer_start, buffer_end;
static int kernel_drained = 1;

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

ssize_t read(int descriptor, void *destination, size_t count) {
    if (descriptor < 0 || descriptor != atomic_load_explicit(&buffered_descriptor, memory_order_relaxed)) {
        return syscall(SYS_read, descriptor, destination, count);
    }
    if (buffer_start == buffer_end) {
        if (count >= sizeof buffer) return syscall(SYS_read, descriptor, destination, count);
        ssize_t received = syscall(SYS_read, descriptor, buffer, sizeof buffer);
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
