/*
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of
 * journal entries: it catches every burst error up to 32 bits, so any
 * single flipped bit in an exported journal is found. Slicing by 8: eight
 * tables, built once on first use, fold eight bytes per round (every
 * journal entry is checksummed when it is written, so this is on the
 * runner's path); the tail goes a byte at a time.
 */
#include <pthread.h>

#include "store_int.h"

static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void table_build(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++)
      c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    table[0][i] = c;
  }
  /* table[k][i]: the CRC of byte i followed by k zero bytes. */
  for (uint32_t i = 0; i < 256; i++)
    for (int k = 1; k < 8; k++)
      table[k][i] = table[0][table[k - 1][i] & 0xff] ^ (table[k - 1][i] >> 8);
}

uint32_t crc32c(uint32_t crc, const void *p, size_t n) {
  pthread_once(&table_once, table_build);
  const uint8_t *s = p;
  crc = ~crc;
  for (; n >= 8; n -= 8, s += 8) {
    /* Bytes are combined explicitly, so byte order and alignment do not
     * matter. */
    uint32_t lo = crc ^ ((uint32_t)s[0] | (uint32_t)s[1] << 8 |
                         (uint32_t)s[2] << 16 | (uint32_t)s[3] << 24);
    crc = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^
          table[5][(lo >> 16) & 0xff] ^ table[4][lo >> 24] ^ table[3][s[4]] ^
          table[2][s[5]] ^ table[1][s[6]] ^ table[0][s[7]];
  }
  while (n--)
    crc = table[0][(crc ^ *s++) & 0xff] ^ (crc >> 8);
  return ~crc;
}
