/* Private to lib/pcapio: the byte sink shared by writer and merger, and the
 * reader's suspend/resume used by the merger to bound open files. */
#ifndef KC_PCAPIO_INTERNAL_H
#define KC_PCAPIO_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <zlib.h>

#include "kc_pcapio.h"

#define PCAP_MAGIC_US 0xa1b2c3d4u
#define PCAP_MAGIC_NS 0xa1b23c4du

/* Buffered output to an fd, optionally through a gzip deflate stream.
 * Every failure is sticky in ->err. */
struct sink {
	int fd;
	int err;          /* first error, negative errno; 0 if none */
	bool gz;
	uint8_t *buf;     /* plain: pending output; gz: compressed pending */
	size_t cap, len;
	uint64_t bytes_in;   /* bytes accepted from the caller */
	uint64_t bytes_out;  /* bytes written to the fd */
	z_stream zs;
};

/* Write all of p[0..n) to fd, retrying short writes and EINTR.
 * Returns 0 or a negative errno (-EIO if write returned 0). */
int pcapio_write_all(int fd, const void *p, size_t n);

int sink_init(struct sink *s, int fd, size_t cap, bool gz, int level);
int sink_write(struct sink *s, const void *p, size_t n);
/* plain: write the buffer out; gz: no-op (deflate keeps its own state) */
int sink_flush(struct sink *s);
/* gz: finish the stream; then flush. */
int sink_finish(struct sink *s);
void sink_free(struct sink *s);

/* Reader internals for the merger. */
struct kc_pcap_reader *pcapio_reader_open(const char *path, size_t bufsize, int *rc,
					  struct kc_err *err);
/* Close the fd, keep position and read-ahead; the next read that needs the
 * file reopens it. The last record returned stays valid. */
void pcapio_reader_suspend(struct kc_pcap_reader *r);
/* Done with this reader (end of file or error): close and free the buffer.
 * kc_pcap_reader_next() then returns 0. */
void pcapio_reader_release(struct kc_pcap_reader *r);
bool pcapio_reader_is_open(const struct kc_pcap_reader *r);

#endif
