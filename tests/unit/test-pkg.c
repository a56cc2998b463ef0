/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "tap.h"
TAP_MAIN
