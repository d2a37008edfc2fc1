// tokenize_cli: drives text::Tokenizer for the Python reference tests
// (tests/reference/tokenizer/) and the tokenizer benchmark (bench/tokenizer/).
//
//   tokenize_cli info   MODEL
//   tokenize_cli encode MODEL IN OUT [--lines] [--add-special] [--allow-special]
//       IN is raw bytes. Without --lines the whole file is one document and OUT
//       gets one line of space-separated ids; with --lines every '\n'-separated
//       line (without its '\n') is encoded alone, one output line each.
//   tokenize_cli decode MODEL IN OUT [--skip-special]
//       IN: one line of space-separated ids per sequence; OUT: one line per
//       sequence, the decoded bytes in lower-case hex.
//   tokenize_cli token-bytes MODEL OUT
//       OUT: one line per id, token_bytes(id) in hex.
//   tokenize_cli bench  MODEL IN [--repeat N] [--lines]
//       Encodes IN as one document (with --lines: every line as its own
//       document, one after the other) N times (default 5) on this thread and
//       prints the median seconds, tokens and MB/s.
//
// MODEL is anything text::load_tokenizer accepts. Exit status 2 on bad usage,
// 1 on a load error (the Status is printed).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "text/tokenizer_loader.h"

namespace {

using tandem::text::Tokenizer;

bool has_flag(int argc, char** argv, const char* flag) {
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], flag) == 0) return true;
  }
  return false;
}

std::string read_all(const char* path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_ids(std::ostream& out, const std::vector<int32_t>& ids) {
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) out << ' ';
    out << ids[i];
  }
  out << '\n';
}

std::string hex(const std::string& bytes) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

int usage() {
  std::fprintf(stderr, "usage: tokenize_cli info|encode|decode|token-bytes|bench MODEL ... (see the source)\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return usage();
  const std::string cmd = argv[1];
  auto loaded = tandem::text::load_tokenizer(argv[2]);
  if (!loaded.ok()) {
    std::fprintf(stderr, "load error: %s\n", loaded.status().to_string().c_str());
    return 1;
  }
  const Tokenizer& tok = **loaded;
  if (cmd == "info") {
    std::printf("vocab_size %d\nbos %d\neos %d\nstrips_leading_space %d\n", tok.vocab_size(), tok.bos_id(),
                tok.eos_id(), tok.strips_leading_space() ? 1 : 0);
    return 0;
  }
  if (cmd == "encode" && argc >= 5) {
    const std::string input = read_all(argv[3]);
    std::ofstream out(argv[4], std::ios::binary);
    const bool add_special = has_flag(argc, argv, "--add-special");
    const bool allow_special = has_flag(argc, argv, "--allow-special");
    if (has_flag(argc, argv, "--lines")) {
      size_t start = 0;
      while (start <= input.size()) {
        size_t end = input.find('\n', start);
        if (end == std::string::npos) end = input.size();
        if (end == input.size() && start == input.size()) break;
        write_ids(out, tok.encode(std::string_view(input).substr(start, end - start), add_special, allow_special));
        start = end + 1;
      }
    } else {
      write_ids(out, tok.encode(input, add_special, allow_special));
    }
    return out ? 0 : 1;
  }
  if (cmd == "decode" && argc >= 5) {
    std::ifstream in(argv[3]);
    std::ofstream out(argv[4], std::ios::binary);
    const bool skip = has_flag(argc, argv, "--skip-special");
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream ls(line);
      std::vector<int32_t> ids;
      int64_t v;
      while (ls >> v) ids.push_back(static_cast<int32_t>(v));
      out << hex(tok.decode(ids, skip)) << '\n';
    }
    return out ? 0 : 1;
  }
  if (cmd == "token-bytes" && argc >= 4) {
    std::ofstream out(argv[3], std::ios::binary);
    for (int32_t id = 0; id < tok.vocab_size(); ++id) out << hex(tok.token_bytes(id)) << '\n';
    return out ? 0 : 1;
  }
  if (cmd == "bench" && argc >= 4) {
    const std::string input = read_all(argv[3]);
    int repeat = 5;
    for (int i = 4; i + 1 < argc; ++i) {
      if (std::strcmp(argv[i], "--repeat") == 0) repeat = std::max(1, std::atoi(argv[i + 1]));
    }
    std::vector<std::string_view> docs;
    if (has_flag(argc, argv, "--lines")) {
      size_t start = 0;
      while (start < input.size()) {
        size_t end = input.find('\n', start);
        if (end == std::string::npos) end = input.size();
        docs.push_back(std::string_view(input).substr(start, end - start));
        start = end + 1;
      }
    } else {
      docs.push_back(input);
    }
    std::vector<double> secs;
    size_t n_tokens = 0;
    for (int r = 0; r < repeat; ++r) {
      n_tokens = 0;
      const auto t0 = std::chrono::steady_clock::now();
      for (std::string_view doc : docs) n_tokens += tok.encode(doc, false, false).size();
      const auto t1 = std::chrono::steady_clock::now();
      secs.push_back(std::chrono::duration<double>(t1 - t0).count());
    }
    std::sort(secs.begin(), secs.end());
    const double med = secs[secs.size() / 2];
    std::printf("bytes %zu tokens %zu median_s %.6f min_s %.6f MB_per_s %.3f\n", input.size(), n_tokens, med,
                secs.front(), static_cast<double>(input.size()) / med / 1e6);
    return 0;
  }
  return usage();
}
