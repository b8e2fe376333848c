/* The kernel's fixed-width integer names, from the C library's. Endian annotations
 * (__bitwise) do not change a layout, so the big-endian types are plain integers. */
#ifndef NUMABOOT_SHIM_ASM_TYPES_H
#define NUMABOOT_SHIM_ASM_TYPES_H
#include <stdint.h>
typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int8_t s8;
typedef int16_t s16;
typedef int32_t s32;
typedef int64_t s64;
typedef uint16_t __be16;
typedef uint32_t __be32;
typedef uint64_t __be64;
#endif
