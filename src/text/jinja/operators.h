// Python semantics of Jinja's operators on Values: arithmetic (+ - * / // %
// **), membership (`in`), indexing and slicing. Failures raise TemplateError
// with Python's message ("unsupported operand type(s) for +: 'int' and
// 'str'", "division by zero", ...).
#pragma once

#include <cstddef>

#include "text/jinja/ast.h"
#include "text/jinja/value.h"

namespace tandem::text::jinja {

// `max_bytes` bounds strings and lists built by `*` and `+`.
Value binary_op(ast::BinaryOp op, const Value& a, const Value& b, size_t max_bytes);
Value negate(const Value& v);
Value unary_plus(const Value& v);
bool contains(const Value& container, const Value& item);
// obj[start:stop:step] for str and sequences (each bound may be none/undefined).
Value slice(const Value& obj, const Value& start, const Value& stop, const Value& step);
// Python's printf-style `str % args`.
std::string percent_format(const std::string& format, const Value& args);
// Python's str.format(*args, **kwargs) (fields, !r/!s, common format specs).
std::string format_method(const std::string& format, const std::vector<Value>& args,
                          const std::vector<std::pair<std::string, Value>>& kwargs);

}  // namespace tandem::text::jinja
