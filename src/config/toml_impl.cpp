// toml++'s implementation, compiled once here: every other file includes its headers with
// TOML_HEADER_ONLY=0 (set by the build for otpd_config and what links it).
#define TOML_IMPLEMENTATION
#include <toml++/toml.h>
