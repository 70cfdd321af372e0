#include "listen_notice_wire.h"

#include <stdint.h>
#include <string.h>

void snapbus_listen_notice_name(const char* segment_path, char name[SNAPBUS_LISTEN_NOTICE_NAME_SIZE]) {
  /* FNV-1a, 64 bits: a segment path may be longer than an abstract name may be (107 bytes). */
  uint64_t hash = 14695981039346656037ULL;
  for (const unsigned char* c = (const unsigned char*)segment_path; *c != '\0'; ++c) {
    hash ^= *c;
    hash *= 1099511628211ULL;
  }
  static const char prefix[] = "snapbus-listen-";
  static const char digits[] = "0123456789abcdef";
  memcpy(name, prefix, sizeof prefix - 1);
  char* hex = name + sizeof prefix - 1;
  for (int i = 15; i >= 0; --i) {
    hex[i] = digits[hash & 0xF];
    hash >>= 4;
  }
  hex[16] = '\0';
}
