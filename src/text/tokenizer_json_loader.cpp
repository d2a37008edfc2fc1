// parse_tokenizer_json (declared in text/tokenizer_loader.h): Hugging Face
// tokenizer.json + tokenizer_config.json -> ByteLevelBpeTokenizer or
// SentencePieceBpeTokenizer.
//
// The files are parsed with Boost.JSON (strict RFC 8259: UTF-8 only, no lone
// surrogate escapes, nesting up to kMaxJsonDepth; of duplicate keys the last
// wins, as in HF tokenizers' serde_json maps). Nothing here throws: parse
// errors come back as error codes and become kMalformedFile naming the file,
// the line and column, a reason and the text around; an allocation failure
// while parsing is caught and becomes kMalformedFile naming the file.
#include <cmath>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parser.hpp>
#include <boost/json/value.hpp>

#include "text/byte_level_bpe_tokenizer.h"
#include "text/sentencepiece_bpe_tokenizer.h"
#include "text/tokenizer_loader.h"
#include "text/unicode.h"

namespace tandem::text {
namespace {

namespace json = boost::json;
using JsonValue = json::value;

constexpr std::size_t kMaxJsonDepth = 128;

constexpr std::string_view kMetaspace = "\xE2\x96\x81";

// Error helpers: every message names the file and the key.
struct Ctx {
  const std::string& file;
  Status malformed(const std::string& key, const std::string& what) const {
    return Status(ErrorKind::kMalformedFile, file + ": " + key + ": " + what);
  }
  Status unsupported(const std::string& key, const std::string& what) const {
    return Status(ErrorKind::kUnsupported, file + ": " + key + ": " + what);
  }
};

// Where `offset` falls in `text`, as "line L, column C" (1-based, columns in bytes).
std::string line_column(std::string_view text, size_t offset) {
  size_t line = 1, col = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(col);
}

// text[begin, end) (clamped) for an error message: printable ASCII kept, the rest as \xNN.
std::string excerpt(std::string_view text, size_t begin, size_t end) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = begin; i < end && i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f) {
      out.push_back(static_cast<char>(c));
    } else {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

// What Boost.JSON's generic "syntax error" at `offset` most likely is.
std::string describe_syntax_error(std::string_view text, size_t offset) {
  if (offset < text.size() && static_cast<unsigned char>(text[offset]) >= 0x80 &&
      unicode::valid_sequence_length(text, offset) == 0) {
    return "invalid UTF-8";
  }
  // A high surrogate escape not followed by a low one: the parser stops just after it.
  if (offset >= 6) {
    const std::string_view esc = text.substr(offset - 6, 6);
    if (esc[0] == '\\' && esc[1] == 'u' && (esc[2] == 'd' || esc[2] == 'D') &&
        std::string_view("89abAB").find(esc[3]) != std::string_view::npos) {
      return "lone UTF-16 surrogate escape " + std::string(esc);
    }
  }
  return "syntax error";
}

// Parses `text` into a value whose memory comes from `storage` (which must
// outlive it). Never throws. Errors: kMalformedFile "NAME: invalid JSON at
// line L, column C: WHAT (after `...`, before `...`)".
Result<JsonValue> parse_json(std::string_view text, const std::string& name, const json::storage_ptr& storage) {
  json::parse_options opt;
  opt.max_depth = kMaxJsonDepth;
  json::error_code ec;
  size_t consumed = 0;
  try {
    json::parser parser(json::storage_ptr(), opt);
    parser.reset(storage);
    consumed = parser.write(text.data(), text.size(), ec);
    if (!ec) return parser.release();
  } catch (const std::exception& e) {  // std::bad_alloc from a huge file; nothing else is expected
    return Status(ErrorKind::kMalformedFile, name + ": could not be parsed: " + e.what());
  }
  std::string what = ec == json::error::too_deep     ? "nesting deeper than " + std::to_string(kMaxJsonDepth)
                     : ec == json::error::incomplete ? "unexpected end of input"
                     : ec == json::error::extra_data ? "unexpected trailing characters"
                     : ec == json::error::syntax     ? describe_syntax_error(text, consumed)
                                                     : ec.message();
  // The text around the spot: up to 16 bytes either side.
  constexpr size_t kAround = 16;
  const size_t from = consumed > kAround ? consumed - kAround : 0;
  what += " (after `" + excerpt(text, from, consumed) + "`";
  what += consumed < text.size() ? ", before `" + excerpt(text, consumed, consumed + kAround) + "`)" : ", at the end)";
  return Status(ErrorKind::kMalformedFile, name + ": invalid JSON at " + line_column(text, consumed) + ": " + what);
}

// Object member `key` of `v`, or nullptr (also when `v` is null or not an object).
const JsonValue* find(const JsonValue* v, std::string_view key) {
  if (!v) return nullptr;
  const json::object* obj = v->if_object();
  return obj ? obj->if_contains(key) : nullptr;
}
const JsonValue* find(const JsonValue& v, std::string_view key) { return find(&v, key); }

std::string_view as_string_view(const JsonValue& v) {
  const json::string& s = v.get_string();
  return std::string_view(s.data(), s.size());
}

// True and *out set when `v` is an integer number, or a double with an
// integral value, of magnitude up to 9e15 (as the loader always accepted).
bool as_int(const JsonValue& v, int64_t* out) {
  constexpr int64_t kLimit = 9'000'000'000'000'000;
  if (const int64_t* i = v.if_int64()) {
    if (*i > kLimit || *i < -kLimit) return false;
    *out = *i;
    return true;
  }
  if (const uint64_t* u = v.if_uint64()) {
    if (*u > static_cast<uint64_t>(kLimit)) return false;
    *out = static_cast<int64_t>(*u);
    return true;
  }
  if (const double* d = v.if_double()) {
    if (!std::isfinite(*d) || std::floor(*d) != *d || std::fabs(*d) > 9.0e15) return false;
    *out = static_cast<int64_t>(*d);
    return true;
  }
  return false;
}

std::string type_of(const JsonValue* v) {
  const JsonValue* t = find(v, "type");
  return t && t->is_string() ? std::string(as_string_view(*t)) : "";
}

bool get_bool(const JsonValue* obj, std::string_view key, bool fallback) {
  const JsonValue* v = find(obj, key);
  return v && v->is_bool() ? v->get_bool() : fallback;
}

std::string get_string(const JsonValue* obj, std::string_view key) {
  const JsonValue* v = find(obj, key);
  return v && v->is_string() ? std::string(as_string_view(*v)) : "";
}

// A list of the components of a Sequence (or the component itself).
std::vector<const JsonValue*> flatten(const JsonValue* v, std::string_view list_key) {
  std::vector<const JsonValue*> out;
  if (!v || v->is_null()) return out;
  if (type_of(v) == "Sequence") {
    const JsonValue* items = find(v, list_key);
    if (items && items->is_array()) {
      for (const JsonValue& item : items->get_array()) {
        auto sub = flatten(&item, list_key);
        out.insert(out.end(), sub.begin(), sub.end());
      }
    }
    return out;
  }
  out.push_back(v);
  return out;
}

// The regex string of a Split pattern {"Regex": "..."} or {"String": "..."}.
bool split_regex(const JsonValue* node, std::string* regex, bool* is_string) {
  const JsonValue* p = find(node, "pattern");
  if (!p || !p->is_object()) return false;
  if (const JsonValue* r = find(p, "Regex"); r && r->is_string()) {
    *regex = as_string_view(*r);
    *is_string = false;
    return true;
  }
  if (const JsonValue* s = find(p, "String"); s && s->is_string()) {
    *regex = as_string_view(*s);
    *is_string = true;
    return true;
  }
  return false;
}

// The text of a special token entry in tokenizer_config.json: "tok" or {"content": "tok"}.
std::string token_content(const JsonValue* v) {
  if (!v) return "";
  if (v->is_string()) return std::string(as_string_view(*v));
  if (v->is_object()) return get_string(v, "content");
  return "";
}

struct Parsed {
  Vocabulary vocab;
  BpeModel merges;
  AddedTokens added;
  SpecialTokens special;
};

Status parse_vocab_and_merges(const Ctx& ctx, const JsonValue& model, Parsed& out) {
  const JsonValue* vocab = find(model, "vocab");
  if (!vocab || !vocab->is_object()) return ctx.malformed("model.vocab", "missing or not an object");
  const json::object& entries = vocab->get_object();
  for (const json::key_value_pair& entry : entries) {
    const std::string text(entry.key());
    int64_t id;
    if (!as_int(entry.value(), &id) || id < 0 || id > 0x7fffffff) {
      return ctx.malformed("model.vocab", "id of \"" + text + "\" is not a non-negative integer");
    }
    // Ids are dense in real vocabularies; a far larger id would only make us allocate for nothing.
    if (id >= static_cast<int64_t>(2 * entries.size() + 65536)) {
      return ctx.malformed("model.vocab",
                           "id " + std::to_string(id) + " of \"" + text + "\" is far beyond the vocabulary size");
    }
    if (!out.vocab.set(static_cast<int32_t>(id), text, TokenKind::kNormal)) {
      return ctx.malformed("model.vocab", "token \"" + text + "\" appears twice");
    }
  }
  const JsonValue* merges = find(model, "merges");
  if (!merges || merges->is_null()) return Status::ok_status();
  if (!merges->is_array()) return ctx.malformed("model.merges", "not an array");
  const json::array& list = merges->get_array();
  out.merges.reserve(list.size());
  int32_t rank = 0;
  std::string joined;
  for (const JsonValue& m : list) {
    std::string_view left, right;
    const json::array* pair = m.if_array();
    if (m.is_string()) {
      const std::string_view both = as_string_view(m);
      const size_t sp = both.find(' ');
      if (sp == std::string_view::npos || both.find(' ', sp + 1) != std::string_view::npos) {
        return ctx.malformed("model.merges[" + std::to_string(rank) + "]",
                             "\"" + std::string(both) + "\" is not two tokens");
      }
      left = both.substr(0, sp);
      right = both.substr(sp + 1);
    } else if (pair && pair->size() == 2 && (*pair)[0].is_string() && (*pair)[1].is_string()) {
      left = as_string_view((*pair)[0]);
      right = as_string_view((*pair)[1]);
    } else {
      return ctx.malformed("model.merges[" + std::to_string(rank) + "]", "not a pair of tokens");
    }
    const int32_t l = out.vocab.find(left), r = out.vocab.find(right);
    joined.assign(left);
    joined.append(right);
    const int32_t result = out.vocab.find(joined);
    if (l < 0 || r < 0 || result < 0) {
      return ctx.malformed(
          "model.merges[" + std::to_string(rank) + "]",
          "\"" + std::string(left) + " " + std::string(right) + "\" uses a token not in the vocabulary");
    }
    out.merges.add_merge(l, r, rank, result);
    ++rank;
  }
  return Status::ok_status();
}

Status parse_added_tokens(const Ctx& ctx, const JsonValue& root, Parsed& out) {
  const JsonValue* added = find(root, "added_tokens");
  if (!added || added->is_null()) return Status::ok_status();
  if (!added->is_array()) return ctx.malformed("added_tokens", "not an array");
  size_t i = 0;
  for (const JsonValue& t : added->get_array()) {
    const std::string key = "added_tokens[" + std::to_string(i++) + "]";
    const JsonValue* idv = find(t, "id");
    const JsonValue* content = find(t, "content");
    int64_t id;
    if (!idv || !as_int(*idv, &id) || id < 0 || id >= static_cast<int64_t>(2 * out.vocab.size() + 65536)) {
      return ctx.malformed(key + ".id", "missing, invalid or far beyond the vocabulary size");
    }
    if (!content || !content->is_string() || content->get_string().empty()) {
      return ctx.malformed(key + ".content", "missing or empty");
    }
    AddedToken tok;
    tok.id = static_cast<int32_t>(id);
    tok.content = as_string_view(*content);
    tok.special = get_bool(&t, "special", false);
    tok.lstrip = get_bool(&t, "lstrip", false);
    tok.rstrip = get_bool(&t, "rstrip", false);
    tok.single_word = get_bool(&t, "single_word", false);
    tok.normalized = get_bool(&t, "normalized", !tok.special);
    const TokenKind kind = tok.special ? TokenKind::kControl : TokenKind::kUserDefined;
    const int32_t existing = out.vocab.find(tok.content);
    if (existing >= 0 && existing != tok.id) {
      return ctx.malformed(key, "\"" + tok.content + "\" has id " + std::to_string(tok.id) +
                                    " but the vocabulary gives it " + std::to_string(existing));
    }
    if (!out.vocab.set(tok.id, tok.content, kind)) return ctx.malformed(key, "conflicting token");
    out.added.add(std::move(tok));
  }
  return Status::ok_status();
}

// TemplateProcessing "single" -> the special ids around $A.
Status parse_post_processor(const Ctx& ctx, const JsonValue& root, Parsed& out) {
  for (const JsonValue* p : flatten(find(root, "post_processor"), "processors")) {
    const std::string type = type_of(p);
    if (type == "ByteLevel") continue;
    if (type != "TemplateProcessing") {
      return ctx.unsupported("post_processor.type", "\"" + type + "\" is not supported");
    }
    const JsonValue* single = find(p, "single");
    if (!single || !single->is_array()) return ctx.malformed("post_processor.single", "missing or not an array");
    bool seen_sequence = false;
    for (const JsonValue& piece : single->get_array()) {
      if (find(piece, "Sequence")) {
        seen_sequence = true;
        continue;
      }
      const JsonValue* st = find(piece, "SpecialToken");
      const std::string name = get_string(st, "id");
      const int32_t id = out.vocab.find(name);
      if (id < 0)
        return ctx.malformed("post_processor.single", "special token \"" + name + "\" is not in the vocabulary");
      (seen_sequence ? out.special.suffix : out.special.prefix).push_back(id);
    }
  }
  return Status::ok_status();
}

Status apply_config(const Ctx& ctx, std::string_view config_json, Parsed& out) {
  if (config_json.empty()) return Status::ok_status();
  json::monotonic_resource storage;
  auto parsed = parse_json(config_json, ctx.file, &storage);
  if (!parsed.ok()) return parsed.status();
  const JsonValue& cfg = *parsed;
  if (!cfg.is_object()) return ctx.malformed("(root)", "tokenizer_config.json is not an object");
  // Added tokens listed only in the config (older exports).
  if (const JsonValue* dec = find(cfg, "added_tokens_decoder"); dec && dec->is_object()) {
    for (const json::key_value_pair& entry : dec->get_object()) {
      const std::string idtext(entry.key());
      const JsonValue& t = entry.value();
      char* end = nullptr;
      const long id = std::strtol(idtext.c_str(), &end, 10);
      if (idtext.empty() || *end != '\0' || id < 0 || id >= 2L * out.vocab.size() + 65536) {
        return ctx.malformed("added_tokens_decoder", "key \"" + idtext + "\" is not a token id");
      }
      const std::string content = get_string(&t, "content");
      if (content.empty()) return ctx.malformed("added_tokens_decoder." + idtext + ".content", "missing or empty");
      if (out.vocab.find(content) >= 0) continue;
      AddedToken tok;
      tok.id = static_cast<int32_t>(id);
      tok.content = content;
      tok.special = get_bool(&t, "special", false);
      tok.lstrip = get_bool(&t, "lstrip", false);
      tok.rstrip = get_bool(&t, "rstrip", false);
      tok.single_word = get_bool(&t, "single_word", false);
      if (!out.vocab.set(tok.id, content, tok.special ? TokenKind::kControl : TokenKind::kUserDefined)) {
        return ctx.malformed("added_tokens_decoder." + idtext, "conflicting token");
      }
      out.added.add(std::move(tok));
    }
  }
  auto resolve = [&](const char* key, int32_t* id) -> Status {
    const JsonValue* v = find(cfg, key);
    if (!v || v->is_null()) return Status::ok_status();
    const std::string content = token_content(v);
    if (content.empty()) return ctx.malformed(key, "not a token");
    const int32_t found = out.vocab.find(content);
    if (found < 0) return ctx.malformed(key, "\"" + content + "\" is not in the vocabulary");
    *id = found;
    return Status::ok_status();
  };
  if (Status s = resolve("bos_token", &out.special.bos); !s.ok()) return s;
  if (Status s = resolve("eos_token", &out.special.eos); !s.ok()) return s;
  auto toggle = [&](const char* key, int32_t id, std::vector<int32_t>& list, bool front) -> Status {
    const JsonValue* v = find(cfg, key);
    if (!v || v->is_null()) return Status::ok_status();
    if (!v->is_bool()) return ctx.malformed(key, "not a boolean");
    std::erase(list, id);
    if (v->get_bool()) {
      if (id < 0) return ctx.malformed(key, "is true but the token is not set");
      list.insert(front ? list.begin() : list.end(), id);
    }
    return Status::ok_status();
  };
  if (Status s = toggle("add_bos_token", out.special.bos, out.special.prefix, true); !s.ok()) return s;
  if (Status s = toggle("add_eos_token", out.special.eos, out.special.suffix, false); !s.ok()) return s;
  return Status::ok_status();
}

}  // namespace

Result<std::shared_ptr<const Tokenizer>> parse_tokenizer_json(std::string_view tokenizer_json,
                                                              std::string_view config_json, const std::string& name) {
  const Ctx ctx{name};
  // Every value of the parsed file is freed at once when `storage` goes.
  json::monotonic_resource storage;
  auto parsed_root = parse_json(tokenizer_json, name, &storage);
  if (!parsed_root.ok()) return parsed_root.status();
  const JsonValue& root = *parsed_root;
  if (!root.is_object()) return ctx.malformed("(root)", "not a JSON object");
  const JsonValue* model = find(root, "model");
  if (!model || !model->is_object()) return ctx.malformed("model", "missing or not an object");
  const std::string model_type = type_of(model);
  if (!model_type.empty() && model_type != "BPE") {
    return ctx.unsupported("model.type", "\"" + model_type + "\" (only BPE is implemented)");
  }
  if (const JsonValue* d = find(model, "dropout");
      d && !d->is_null() && !(d->is_number() && d->to_number<double>() == 0)) {
    return ctx.unsupported("model.dropout", "BPE dropout is not supported");
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (!get_string(model, key).empty()) return ctx.unsupported(std::string("model.") + key, "not supported");
  }

  Parsed p;
  if (Status s = parse_vocab_and_merges(ctx, *model, p); !s.ok()) return s;
  if (Status s = parse_added_tokens(ctx, root, p); !s.ok()) return s;
  if (Status s = parse_post_processor(ctx, root, p); !s.ok()) return s;
  // Byte tokens of byte-fallback vocabularies.
  const bool byte_fallback = get_bool(model, "byte_fallback", false);
  if (byte_fallback) {
    for (int32_t id = 0; id < p.vocab.size(); ++id) {
      if (!p.vocab.contains(id) || p.vocab.kind(id) != TokenKind::kNormal) continue;
      const std::string& t = p.vocab.text(id);
      if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>') p.vocab.set_kind(id, TokenKind::kByte);
    }
  }
  const std::string config_name = name + " (tokenizer_config.json)";
  if (Status s = apply_config(Ctx{config_name}, config_json, p); !s.ok()) return s;
  if (p.special.bos < 0 && !p.special.prefix.empty()) p.special.bos = p.special.prefix.front();
  if (p.special.eos < 0 && !p.special.suffix.empty()) p.special.eos = p.special.suffix.back();

  // Normalizer.
  bool nfc = false;
  bool prepend_normalizer = false;
  bool replace_space = false;
  for (const JsonValue* n : flatten(find(root, "normalizer"), "normalizers")) {
    const std::string type = type_of(n);
    if (type == "NFC") {
      nfc = true;
    } else if (type == "Prepend" && get_string(n, "prepend") == kMetaspace) {
      prepend_normalizer = true;
    } else if (type == "Replace" && get_string(find(n, "pattern"), "String") == " " &&
               get_string(n, "content") == kMetaspace) {
      replace_space = true;
    } else {
      return ctx.unsupported("normalizer", "\"" + type + "\" is not supported");
    }
  }

  // Pre-tokenizer.
  std::vector<SplitPattern> steps;
  bool byte_level = false;
  const JsonValue* metaspace = nullptr;
  for (const JsonValue* pt : flatten(find(root, "pre_tokenizer"), "pretokenizers")) {
    const std::string type = type_of(pt);
    if (type == "ByteLevel") {
      byte_level = true;
      if (get_bool(pt, "add_prefix_space", false)) {
        return ctx.unsupported("pre_tokenizer.add_prefix_space", "ByteLevel add_prefix_space=true is not supported");
      }
      if (get_bool(pt, "use_regex", true)) steps.push_back(SplitPattern::kGpt2);
    } else if (type == "Split") {
      std::string regex;
      bool is_string = false;
      if (!split_regex(pt, &regex, &is_string)) return ctx.malformed("pre_tokenizer.pattern", "missing");
      const std::string behavior = get_string(pt, "behavior");
      if (behavior != "Isolated" || get_bool(pt, "invert", false) || is_string) {
        return ctx.unsupported("pre_tokenizer", "Split with behavior \"" + behavior + "\"" +
                                                    (is_string ? " and a string pattern" : "") + " is not supported");
      }
      const auto pattern = split_pattern_from_regex(regex);
      if (!pattern) return ctx.unsupported("pre_tokenizer.pattern.Regex", "unknown regex \"" + regex + "\"");
      steps.push_back(*pattern);
    } else if (type == "Digits") {
      steps.push_back(get_bool(pt, "individual_digits", false) ? SplitPattern::kDigitEach : SplitPattern::kDigitRuns);
    } else if (type == "Metaspace") {
      metaspace = pt;
    } else {
      return ctx.unsupported("pre_tokenizer", "\"" + type + "\" is not supported");
    }
  }
  const bool sentencepiece = metaspace != nullptr || replace_space;
  if (byte_level == sentencepiece) {
    return ctx.unsupported("pre_tokenizer", byte_level
                                                ? "mixes ByteLevel and Metaspace"
                                                : "neither byte-level (ByteLevel) nor SentencePiece-style (Metaspace / "
                                                  "Replace(' ', '▁')); this tokenizer kind is not supported");
  }

  if (byte_level) {
    if (prepend_normalizer || replace_space) return ctx.unsupported("normalizer", "Prepend/Replace with ByteLevel");
    ByteLevelBpeOptions opt;
    opt.pretokenizer = PreTokenizer(std::move(steps));
    opt.nfc = nfc;
    opt.ignore_merges = get_bool(model, "ignore_merges", false);
    if (const std::string unk = get_string(model, "unk_token"); !unk.empty()) {
      opt.unk = p.vocab.find(unk);
      if (opt.unk < 0) return ctx.malformed("model.unk_token", "\"" + unk + "\" is not in the vocabulary");
    }
    opt.special = p.special;
    auto tok =
        ByteLevelBpeTokenizer::create(std::move(p.vocab), std::move(p.merges), std::move(p.added), std::move(opt));
    if (!tok.ok()) return Status(tok.status().kind(), name + ": " + tok.status().message());
    return std::shared_ptr<const Tokenizer>(*tok);
  }

  if (nfc || !steps.empty()) return ctx.unsupported("pre_tokenizer", "NFC or Split with a SentencePiece vocabulary");
  SentencePieceOptions opt;
  opt.byte_fallback = byte_fallback;
  opt.fuse_unk = get_bool(model, "fuse_unk", false);
  const std::string unk = get_string(model, "unk_token");
  opt.unk = unk.empty() ? -1 : p.vocab.find(unk);
  if (metaspace) {
    if (get_string(metaspace, "replacement") != kMetaspace) {
      return ctx.unsupported("pre_tokenizer.replacement", "only \"▁\" is supported");
    }
    const std::string scheme = get_string(metaspace, "prepend_scheme");
    if (scheme == "first") {
      opt.prefix = SpacePrefix::kFirstSegment;
    } else if (scheme == "never") {
      opt.prefix = SpacePrefix::kNever;
    } else if (scheme == "always" || (scheme.empty() && get_bool(metaspace, "add_prefix_space", true))) {
      opt.prefix = SpacePrefix::kAlways;
    } else if (scheme.empty()) {
      opt.prefix = SpacePrefix::kNever;
    } else {
      return ctx.unsupported("pre_tokenizer.prepend_scheme", "\"" + scheme + "\"");
    }
    opt.split_on_metaspace = get_bool(metaspace, "split", true);
    if (prepend_normalizer) return ctx.unsupported("normalizer", "Prepend together with Metaspace");
  } else {
    opt.prefix = prepend_normalizer ? SpacePrefix::kEverySegment : SpacePrefix::kNever;
  }
  // Decoder.
  opt.decoder = SentencePieceDecoder::kKeepSpaces;
  for (const JsonValue* d : flatten(find(root, "decoder"), "decoders")) {
    const std::string type = type_of(d);
    if (type == "Metaspace") {
      opt.decoder = SentencePieceDecoder::kMetaspace;
    } else if (type == "Strip") {
      const JsonValue* start = find(d, "start");
      int64_t n = 0;
      if (get_string(d, "content") != " " || !start || !as_int(*start, &n) || n != 1) {
        return ctx.unsupported("decoder", "Strip other than (\" \", 1, 0)");
      }
      opt.decoder = SentencePieceDecoder::kStripFirstSpace;
    } else if (type != "Replace" && type != "ByteFallback" && type != "Fuse") {
      return ctx.unsupported("decoder", "\"" + type + "\" with a SentencePiece vocabulary");
    }
  }
  opt.special = p.special;
  auto tok =
      SentencePieceBpeTokenizer::create(std::move(p.vocab), std::move(p.merges), std::move(p.added), std::move(opt));
  if (!tok.ok()) return Status(tok.status().kind(), name + ": " + tok.status().message());
  return std::shared_ptr<const Tokenizer>(*tok);
}

}  // namespace tandem::text
