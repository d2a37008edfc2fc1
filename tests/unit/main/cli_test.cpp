// The command line: Tandem's own flags, a positional model, and vLLM's
// flags mapped onto the TOML keys they set (checked by apply_overrides).
#include "main/cli.h"

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace tandem::cli {
namespace {

Config parsed(const std::vector<std::string>& args) {
  Config c;
  apply_overrides(c, parse_args(args).overrides);
  return c;
}

std::string error_of(const std::vector<std::string>& args) {
  try {
    parsed(args);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(Cli, VllmFlagsSetTheirTomlKeys) {
  const Config c = parsed({"serve",
                           "/m/model.gguf",
                           "--served-model-name",
                           "gpt-4o",
                           "local",
                           "--max-model-len",
                           "4096",
                           "--gpu-memory-utilization",
                           "0.8",
                           "--max-num-seqs",
                           "16",
                           "--max-num-batched-tokens=1024",
                           "--api-key",
                           "k1",
                           "--chat-template",
                           "t.jinja",
                           "--no-enable-prefix-caching",
                           "--enable-auto-tool-choice",
                           "--tool-call-parser",
                           "hermes",
                           "--reasoning-parser",
                           "qwen3",
                           "--generation-config",
                           "vllm",
                           "--override-generation-config",
                           R"({"temperature": 0.2, "max_new_tokens": 64})"});
  EXPECT_EQ(c.model.path, "/m/model.gguf");
  EXPECT_EQ(c.model.name, "gpt-4o");
  EXPECT_EQ(c.model.aliases, std::vector<std::string>{"local"});
  EXPECT_EQ(c.model.max_context, 4096);
  EXPECT_DOUBLE_EQ(c.engine.gpu_memory_fraction, 0.8);
  EXPECT_EQ(c.engine.max_running, 16);
  EXPECT_EQ(c.engine.max_batch_tokens, 1024);
  EXPECT_EQ(c.server.api_keys, std::vector<std::string>{"k1"});
  EXPECT_EQ(c.model.chat_template, "t.jinja");
  EXPECT_FALSE(c.engine.enable_prefix_caching);
  EXPECT_EQ(c.model.tool_call_parser, "hermes");
  EXPECT_EQ(c.model.reasoning_parser, "qwen3");
  EXPECT_EQ(c.model.generation_config, "vllm");
  EXPECT_DOUBLE_EQ(*c.model.defaults.temperature, 0.2);
  EXPECT_EQ(*c.model.defaults.max_tokens, 64);
}

TEST(Cli, SeveralValuesAndQuoting) {
  const Config c = parsed({"serve", "--api-key", "a\"b", "c\\d", "--served-model-name", "only", "--port", "0"});
  EXPECT_EQ(c.server.api_keys, (std::vector<std::string>{"a\"b", "c\\d"}));
  EXPECT_EQ(c.model.name, "only");
  EXPECT_TRUE(c.model.aliases.empty());
  EXPECT_EQ(c.server.port, 0);
}

TEST(Cli, MaxModelLenTakesVllmsHumanReadableForm) {
  EXPECT_EQ(parsed({"serve", "--max-model-len", "32k"}).model.max_context, 32000);
  EXPECT_EQ(parsed({"serve", "--max-model-len", "32K"}).model.max_context, 32768);
  EXPECT_EQ(parsed({"serve", "--max-model-len", "1.5k"}).model.max_context, 1500);
  EXPECT_EQ(error_of({"serve", "--max-model-len", "32q"}),
            "--max-model-len: expected an integer (or 32k, 32K, ...), got \"32q\"");
}

TEST(Cli, BadValuesNameTheFlagAndTheKey) {
  EXPECT_EQ(error_of({"serve", "--max-model-len", "-1"}),
            "--max-model-len: [model] max_context: expected an integer in 0..2147483647, got -1");
  EXPECT_EQ(error_of({"serve", "--max-num-seqs", "many"}), "--max-num-seqs: expected an integer, got \"many\"");
  EXPECT_EQ(error_of({"serve", "--tool-call-parser", "pythonic"}),
            "--tool-call-parser: [model] tool_call_parser: expected one of \"auto\" \"none\" \"hermes\" \"mistral\" "
            "\"llama3_json\", got \"pythonic\"");
  EXPECT_EQ(error_of({"serve", "--override-generation-config", "[1]"}),
            "--override-generation-config: expected a JSON object, got [1]");
  EXPECT_EQ(error_of({"serve", "--served-model-name"}), "--served-model-name: expected a value");
  EXPECT_EQ(error_of({"serve", "--enable-prefix-caching=1"}), "--enable-prefix-caching: takes no value");
}

TEST(Cli, HelpListsEveryFlagWithItsKey) {
  const std::string help = usage();
  for (const char* line : {"--served-model-name NAME...",
                           "[model] name (the first), [model] aliases",
                           "--max-model-len N",
                           "[model] max_context",
                           "--gpu-memory-utilization F",
                           "[engine] gpu_memory_fraction",
                           "--max-num-seqs N",
                           "[engine] max_running",
                           "--max-num-batched-tokens N",
                           "[engine] max_batch_tokens",
                           "--api-key KEY...",
                           "[server] api_keys",
                           "--chat-template FILE",
                           "[model] chat_template",
                           "--enable-prefix-caching",
                           "--no-enable-prefix-caching",
                           "[engine] enable_prefix_caching",
                           "--tool-call-parser NAME",
                           "--reasoning-parser NAME",
                           "--generation-config",
                           "[model] generation_config",
                           "--override-generation-config JSON",
                           "[model.defaults] (temperature, top_p"}) {
    EXPECT_NE(help.find(line), std::string::npos) << line;
  }
}

TEST(Cli, TheShippedConfigNamesEachVllmFlagBesideItsKey) {
  std::ifstream in(std::string(TANDEM_SOURCE_DIR) + "/etc/tandem.toml");
  ASSERT_TRUE(in) << "etc/tandem.toml";
  std::stringstream shipped;
  shipped << in.rdbuf();
  const std::string help = usage();
  const size_t vllm = help.find("vLLM's flags");
  ASSERT_NE(vllm, std::string::npos);
  std::istringstream lines(help.substr(vllm));
  std::string line;
  int flags = 0;
  while (std::getline(lines, line)) {
    if (line.rfind("  --", 0) != 0) continue;
    const std::string flag = line.substr(2, line.find(' ', 2) - 2);
    ++flags;
    EXPECT_NE(shipped.str().find(flag), std::string::npos) << flag << " is not named in etc/tandem.toml";
  }
  EXPECT_EQ(flags, 14);
}

}  // namespace
}  // namespace tandem::cli
