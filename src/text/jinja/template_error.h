// jinja::TemplateError: the one exception type used inside the Jinja
// interpreter. It never leaves src/text/jinja: Program::compile/render catch
// it and return a Status of kind kTemplateError with the same message.
#pragma once

#include <exception>
#include <string>
#include <utility>

namespace tandem::text::jinja {

class TemplateError : public std::exception {
 public:
  explicit TemplateError(std::string message) : message_(std::move(message)) {}
  const char* what() const noexcept override { return message_.c_str(); }
  const std::string& message() const { return message_; }

 private:
  std::string message_;
};

[[noreturn]] inline void fail(std::string message) { throw TemplateError(std::move(message)); }

}  // namespace tandem::text::jinja
