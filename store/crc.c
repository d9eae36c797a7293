/*
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of
 * journal entries: it catches every burst error up to 32 bits, so any
 * single flipped bit in an exported journal is found. Table-driven, one
 * byte at a time; the table is built once, on first use.
 */
#include <pthread.h>

#include "store_int.h"

static uint32_t table[256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void table_build(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++)
      c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    table[i] = c;
  }
}

uint32_t crc32c(uint32_t crc, const void *p, size_t n) {
  pthread_once(&table_once, table_build);
  const uint8_t *s = p;
  crc = ~crc;
  while (n--)
    crc = table[(crc ^ *s++) & 0xff] ^ (crc >> 8);
  return ~crc;
}
