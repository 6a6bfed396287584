#ifndef CELLDRIFT_READ_BUFFER_H
#define CELLDRIFT_READ_BUFFER_H
#include <stddef.h>

/// Reads of `descriptor` (the MQTT source's socket) are served from one 64 KiB buffer from now on;
/// -1 stops buffering and drops what was buffered (the connection is gone).
void celldrift_read_buffer_attach(int descriptor);
/// Bytes received from the kernel and not yet handed to a reader.
size_t celldrift_read_buffer_pending(void);
/// Whether the kernel had nothing more when the buffer was last filled (the read came back short).
int celldrift_read_buffer_kernel_drained(void);

#endif
