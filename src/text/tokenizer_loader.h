// text::load_tokenizer: builds a text::Tokenizer from a model's files.
//
//  * a .gguf file: tokenizer.ggml.model "gpt2" (byte-level BPE; the split is
//    chosen by tokenizer.ggml.pre, see README.md for the table) or "llama"
//    (SentencePiece BPE from tokens + scores + token_type), with bos/eos ids,
//    add_bos_token / add_eos_token / add_space_prefix;
//  * a Hugging Face directory: tokenizer.json (model BPE; ByteLevel, Split,
//    Digits, Metaspace pre-tokenizers; NFC / Prepend / Replace normalizers)
//    plus tokenizer_config.json when present (bos/eos, add_bos_token,
//    add_eos_token);
//  * a tokenizer.json path directly.
//
// Failure: kIo when a file cannot be read; kMalformedFile naming the file and
// the key that is missing or wrong; kUnsupported naming what is not
// implemented (another model type, an unknown pre-tokenizer regex, an
// unknown GGUF `pre`). Never throws, never crashes on bad input.
// Threading: the functions are reentrant; the returned tokenizer is immutable.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "text/tokenizer.h"

namespace tandem::model_files {
class GgufFile;
}  // namespace tandem::model_files

namespace tandem::text {

// `model_path`: a .gguf file, an HF model directory, or a tokenizer.json.
Result<std::shared_ptr<const Tokenizer>> load_tokenizer(const std::string& model_path);

// tokenizer.json plus, optionally, its tokenizer_config.json.
Result<std::shared_ptr<const Tokenizer>> load_tokenizer_json(
    const std::string& tokenizer_json_path, const std::optional<std::string>& tokenizer_config_path = std::nullopt);

// From the text of the two files (`config_json` may be empty); `name` is used
// in error messages. Entry point for tests and fuzzing.
Result<std::shared_ptr<const Tokenizer>> parse_tokenizer_json(std::string_view tokenizer_json,
                                                              std::string_view config_json, const std::string& name);

// From an opened GGUF file's metadata.
Result<std::shared_ptr<const Tokenizer>> load_tokenizer_gguf(const model_files::GgufFile& gguf);

}  // namespace tandem::text
