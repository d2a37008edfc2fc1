// The Boost.JSON implementation, compiled once for the whole program.
//
// Boost.JSON is used header-only (BOOST_JSON_NO_LIB): exactly one translation
// unit of a binary may include <boost/json/src.hpp>, or its symbols are
// defined twice. That unit lives in common because common is the leaf module
// every other module links, so engine (safetensors headers, config.json),
// text (tokenizer.json, chat templates) and frontend (OpenAI requests) all
// get it without depending on each other. No other file may include src.hpp.
#include <boost/json/src.hpp>
