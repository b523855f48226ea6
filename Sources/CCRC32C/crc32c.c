// Hardware CRC-32C for the journal and snapshots: every journal record and every snapshot byte
// is checksummed, and the table loop cost ~2% of tallyd's CPU under consumes (docs/decisions.md).
// Swift cannot reach the crc32 instruction without C; Debian 12 packages no crc32c library.

#include "crc32c.h"

#include <string.h>

static uint32_t table[256];

static void fill_table(void) {
    for (uint32_t index = 0; index < 256; index++) {
        uint32_t crc = index;
        for (int bit = 0; bit < 8; bit++) {
            crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
        }
        table[index] = crc;
    }
}

uint32_t tally_crc32c_portable(uint32_t crc, const void *bytes, size_t count) {
    static int filled = 0;
    if (!__atomic_load_n(&filled, __ATOMIC_ACQUIRE)) {
        // Filling twice from two threads writes the same values: harmless.
        fill_table();
        __atomic_store_n(&filled, 1, __ATOMIC_RELEASE);
    }
    const uint8_t *p = bytes;
    crc = ~crc;
    while (count--) {
        crc = table[(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    }
    return ~crc;
}

#if defined(__x86_64__)
#include <cpuid.h>

__attribute__((target("sse4.2")))
static uint32_t crc32c_sse42(uint32_t crc, const void *bytes, size_t count) {
    const uint8_t *p = bytes;
    uint64_t c = ~crc;
    while (count >= 8) {
        uint64_t word;
        memcpy(&word, p, 8);  // unaligned load, little-endian as the instruction expects
        c = __builtin_ia32_crc32di(c, word);
        p += 8;
        count -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (count--) {
        c32 = __builtin_ia32_crc32qi(c32, *p++);
    }
    return ~c32;
}

static int has_sse42(void) {
    static int known = -1;  // -1: not asked yet
    int value = __atomic_load_n(&known, __ATOMIC_RELAXED);
    if (value < 0) {
        unsigned int a, b, c, d;
        value = __get_cpuid(1, &a, &b, &c, &d) && (c & bit_SSE4_2) ? 1 : 0;
        __atomic_store_n(&known, value, __ATOMIC_RELAXED);
    }
    return value;
}
#endif

uint32_t tally_crc32c(uint32_t crc, const void *bytes, size_t count) {
#if defined(__x86_64__)
    if (has_sse42()) return crc32c_sse42(crc, bytes, count);
#endif
    return tally_crc32c_portable(crc, bytes, count);
}
