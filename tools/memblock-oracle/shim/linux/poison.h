/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Stand-in for <linux/poison.h>: everything is in shim.h. */
#include "../shim.h"
