/*
 * The built-in service-activity components: noop, fail, sleep_timer,
 * pause (alias pause_node) and shell. They use only the public component
 * API of rattan.h, as a host's own components would.
 */
#ifndef RATTAN_BUILTINS_H
#define RATTAN_BUILTINS_H

#include <stddef.h>

#include "rattan.h"

/* The built-in components, registered on every engine at open: a static
 * array of *n entries. */
const rattan_component *eng_builtins(size_t *n);

#endif /* RATTAN_BUILTINS_H */
