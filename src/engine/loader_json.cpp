// The Boost.JSON implementation, compiled once (Boost.JSON is used
// header-only: exactly one translation unit of a binary includes src.hpp).
// It lives in engine because engine is the lowest module that parses JSON
// (safetensors headers, config.json); modules above link it from here.
#include <boost/json/src.hpp>
