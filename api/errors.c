/* Error names and texts, generated from RATTAN_ERROR_MAP. */
#include "rattan.h"

const char *rattan_strerror(int err) {
  switch (err) {
#define X(name, value, text) \
  case value:                \
    return "RATTAN_" #name ": " text;
    RATTAN_ERROR_MAP(X)
#undef X
  }
  return "RATTAN_E?: unknown error";
}

const char *rattan_errname(int err) {
  switch (err) {
#define X(name, value, text) \
  case value:                \
    return "RATTAN_" #name;
    RATTAN_ERROR_MAP(X)
#undef X
  }
  return "RATTAN_E?";
}

const char *rattan_version(void) {
  return RATTAN_VERSION_STRING;
}

int rattan_version_number(void) {
  return RATTAN_VERSION_NUMBER;
}
