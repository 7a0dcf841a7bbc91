/* SPDX-License-Identifier: MIT
 * io_int.h - declarations shared by the files of src/io only.
 * Thread: the loop's own. */
#ifndef IO_INT_H
#define IO_INT_H

#include "io.h"

/* End of turn: starts one SEND per connection that queued bytes this turn. */
void io_conn_flush_all(struct io_loop *l);
/* End of turn: closes the fds of dead connections and calls their on_close. */
void io_conn_reap(struct io_loop *l);

#endif
