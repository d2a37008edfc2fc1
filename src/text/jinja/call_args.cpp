#include "text/jinja/call_args.h"

#include "text/jinja/template_error.h"

namespace tandem::text::jinja {

ArgBinder::ArgBinder(const std::string& function, std::initializer_list<const char*> params, const CallArgs& args)
    : values_(params.size()), provided_(params.size(), false) {
  const std::vector<const char*> names(params);
  if (args.positional.size() > names.size()) {
    fail(function + "() takes at most " + std::to_string(names.size()) + " argument(s) (" +
         std::to_string(args.positional.size()) + " given)");
  }
  for (size_t i = 0; i < args.positional.size(); ++i) {
    values_[i] = args.positional[i];
    provided_[i] = true;
  }
  for (const auto& [key, value] : args.keyword) {
    size_t idx = names.size();
    for (size_t i = 0; i < names.size(); ++i) {
      if (key == names[i]) idx = i;
    }
    if (idx == names.size()) fail(function + "() got an unexpected keyword argument '" + key + "'");
    if (provided_[idx]) fail(function + "() got multiple values for argument '" + key + "'");
    values_[idx] = value;
    provided_[idx] = true;
  }
}

}  // namespace tandem::text::jinja
