// jinja::Value: a Python-like value as Jinja2 templates see it (None, bool,
// int, float, str, list/tuple, dict, Undefined, generator, namespace,
// callable, loop). Containers are immutable and shared (HF renders with
// ImmutableSandboxedEnvironment: templates cannot mutate lists or dicts), so
// copying a Value is a reference-count bump. Only Namespace, Generator and
// LoopState are mutable, and they are reference types as in Python.
//
// Threading: a Value graph is owned by one render; never share across threads.
// Ints are 64-bit: arithmetic that overflows fails with a TemplateError
// (Python would switch to big integers; documented in README.md).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tandem::text::jinja {

class Value;
struct Callable;
struct LoopState;

// How a sequence prints and behaves (Python type it stands for).
enum class SequenceStyle { kList, kTuple, kDictItems, kDictKeys, kDictValues, kRange };

// Containers deeper than this cannot be built (bounds recursion in printing,
// comparison and destruction).
inline constexpr int kMaxValueDepth = 512;

struct Sequence {
  int depth = 1;
  SequenceStyle style = SequenceStyle::kList;
  std::vector<Value> items;
  int64_t range_start = 0, range_stop = 0, range_step = 1;  // kRange only
};

// Insertion-ordered mapping; keys compare with Python equality.
struct Dict {
  int depth = 1;  // set by Value::dict()
  std::vector<std::pair<Value, Value>> items;
  const Value* find(const Value& key) const;
  const Value* find(std::string_view key) const;
};

struct Namespace {
  std::vector<std::pair<std::string, Value>> attrs;
  const Value* find(std::string_view name) const;
  void set(const std::string& name, Value value);
};

// A one-shot iterator (Python generator / list_reverseiterator): always
// truthy, has no len(), yields its items once.
struct Generator {
  int depth = 1;
  std::string type_name;  // "generator", "list_reverseiterator"
  std::vector<Value> items;
  bool consumed = false;
};

// Why a value is undefined; the message is built when an operation fails.
struct UndefinedInfo {
  std::string name;      // variable, attribute or (repr of the) element
  std::string owner;     // "" for a missing variable, else "dict object", "None", ...
  bool element = false;  // a missing element (non-string key): "has no element"
  std::string hint;      // explicit message (sandbox, missing parameter), overrides
};

class Value {
 public:
  enum class Kind : uint8_t {
    kUndefined,
    kNone,
    kBool,
    kInt,
    kFloat,
    kString,
    kSequence,
    kDict,
    kGenerator,
    kNamespace,
    kCallable,
    kLoop,
  };

  Value() : kind_(Kind::kUndefined), i_(0) {}
  static Value none() { return Value(Kind::kNone); }
  static Value undefined() { return Value(); }
  static Value undefined_name(std::string name);
  static Value undefined_attr(const Value& owner, std::string name);
  static Value undefined_element(const Value& owner, const Value& key);
  static Value undefined_hint(std::string hint);
  static Value boolean(bool b) {
    Value v(Kind::kBool);
    v.b_ = b;
    return v;
  }
  static Value integer(int64_t i) {
    Value v(Kind::kInt);
    v.i_ = i;
    return v;
  }
  static Value number(double f) {
    Value v(Kind::kFloat);
    v.f_ = f;
    return v;
  }
  static Value string(std::string s);
  static Value string(std::shared_ptr<const std::string> s);
  static Value sequence(std::vector<Value> items, SequenceStyle style = SequenceStyle::kList);
  static Value range(int64_t start, int64_t stop, int64_t step);
  static Value dict(Dict d);
  static Value generator(std::vector<Value> items, std::string type_name = "generator");
  static Value new_namespace();
  static Value from_namespace(std::shared_ptr<Namespace> ns);
  static Value callable(std::shared_ptr<const Callable> c);
  static Value loop(std::shared_ptr<LoopState> l);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::kUndefined; }
  bool is_none() const { return kind_ == Kind::kNone; }
  bool is_bool() const { return kind_ == Kind::kBool; }
  bool is_int() const { return kind_ == Kind::kInt; }
  bool is_float() const { return kind_ == Kind::kFloat; }
  bool is_number() const { return kind_ == Kind::kInt || kind_ == Kind::kFloat || kind_ == Kind::kBool; }
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_sequence() const { return kind_ == Kind::kSequence; }
  bool is_tuple() const { return is_sequence() && as_sequence().style == SequenceStyle::kTuple; }
  bool is_dict() const { return kind_ == Kind::kDict; }
  bool is_generator() const { return kind_ == Kind::kGenerator; }
  bool is_namespace() const { return kind_ == Kind::kNamespace; }
  bool is_callable() const { return kind_ == Kind::kCallable; }
  bool is_loop() const { return kind_ == Kind::kLoop; }

  bool as_bool() const { return b_; }
  int64_t as_int() const { return kind_ == Kind::kBool ? (b_ ? 1 : 0) : i_; }
  double as_float() const;  // int, bool or float as double
  const std::string& as_string() const { return *static_cast<const std::string*>(ptr_.get()); }
  const std::shared_ptr<const std::string> string_ptr() const {
    return std::static_pointer_cast<const std::string>(ptr_);
  }
  const Sequence& as_sequence() const { return *static_cast<const Sequence*>(ptr_.get()); }
  const Dict& as_dict() const { return *static_cast<const Dict*>(ptr_.get()); }
  Generator& as_generator() const { return *static_cast<Generator*>(ptr_.get()); }
  Namespace& as_namespace() const { return *static_cast<Namespace*>(ptr_.get()); }
  const Callable& as_callable() const { return *static_cast<const Callable*>(ptr_.get()); }
  LoopState& as_loop() const { return *static_cast<LoopState*>(ptr_.get()); }
  const UndefinedInfo* undefined_info() const { return static_cast<const UndefinedInfo*>(ptr_.get()); }
  // True when both refer to the same shared object (Python `is` for containers).
  bool same_object(const Value& other) const { return ptr_ && ptr_ == other.ptr_; }

 private:
  explicit Value(Kind k) : kind_(k), i_(0) {}

  Kind kind_;
  union {
    bool b_;
    int64_t i_;
    double f_;
  };
  std::shared_ptr<void> ptr_;
};

// Nesting depth of a container value (scalars, namespaces, callables: 0).
int depth_of(const Value& v);
// Depth of a container holding `items`; fails past kMaxValueDepth.
int container_depth(const std::vector<Value>& items);

// Python truthiness (undefined is false; generators, namespaces are true).
bool truthy(const Value& v);
// Python class name as used in error messages: "str", "int", "NoneType", ...
std::string type_name(const Value& v);
// Jinja's object_type_repr: "dict object", "None", "str object".
std::string object_type_repr(const Value& v);
// The message an operation on this undefined value raises.
std::string undefined_message(const Value& v);
[[noreturn]] void fail_undefined(const Value& v);

// Python ==. Undefined equals only undefined.
bool equals(const Value& a, const Value& b);
// Python <: numbers, strings (code point order), sequences; else TypeError.
bool less(const Value& a, const Value& b, const char* op = "<");
// b < a, reporting a TypeError as Python does for `a > b` (operands in source order).
bool greater(const Value& a, const Value& b, const char* op = ">");

// Python str() and repr(); `depth` guards against pathological nesting.
std::string to_str(const Value& v);
void append_str(std::string& out, const Value& v);
std::string to_repr(const Value& v);
std::string repr_string(std::string_view s);
std::string float_repr(double d);

// len(); fails with Python's message for values without a length.
int64_t length_of(const Value& v);
// Iteration as Python does (str: code points, dict: keys, generator: once).
std::vector<Value> iterate(const Value& v);

}  // namespace tandem::text::jinja
