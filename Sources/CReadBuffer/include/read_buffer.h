#ifndef CELLDRIFT_READ_BUFFER_H
#define CELLDRIFT_READ_BUFFER_H
#include <stddef.h>
#include <sys/types.h>

/// Reads of `descriptor` (the MQTT source's socket) through `celldrift_buffered_read` are served from
/// one 64 KiB buffer from now on; -1 stops buffering and drops what was buffered (the connection is gone).
void celldrift_read_buffer_attach(int descriptor);
/// read(2) with the buffer in front of the attached descriptor; any other goes straight to the kernel.
ssize_t celldrift_buffered_read(int descriptor, void *destination, size_t count);
/// Has the loaded library whose file name starts with `library` (e.g. "libmosquitto.so") call
/// `celldrift_buffered_read` where it calls read(2); returns the relocation slots rewritten (0: the
/// library is not loaded, or does not call read).
int celldrift_read_buffer_install(const char *library);
/// Bytes received from the kernel and not yet handed to a reader.
size_t celldrift_read_buffer_pending(void);
/// Whether the kernel had nothing more when the buffer was last filled (the read came back short).
int celldrift_read_buffer_kernel_drained(void);
/// Reads of the attached descriptor that went to the kernel, since the process started.
size_t celldrift_read_buffer_kernel_reads(void);

#endif
