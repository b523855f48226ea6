#ifndef TALLY_CRC32C_H
#define TALLY_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/// CRC-32C (Castagnoli) of `count` bytes at `bytes`, continuing from `crc` (0 to start; the
/// result of an earlier call to go on). Uses the CPU's crc32 instruction where it has one
/// (SSE 4.2 on x86-64, checked once at run time), a table otherwise; both give the same value.
uint32_t tally_crc32c(uint32_t crc, const void *bytes, size_t count);

/// The table version alone, for tests that compare the two.
uint32_t tally_crc32c_portable(uint32_t crc, const void *bytes, size_t count);

#endif
