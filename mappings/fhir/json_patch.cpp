#include "mappings/fhir/json_patch.hpp"

#include <rapidjson/pointer.h>

namespace carebridge::mappings::fhir {

namespace {

bool valid_pointer(const rapidjson::Value& v) {
  if (!v.IsString()) return false;
  const std::string_view s(v.GetString(), v.GetStringLength());
  return (s.empty() || s.front() == '/') &&
         rapidjson::Pointer(v.GetString(), v.GetStringLength()).IsValid();
}

// Puts `v` where `p` points (RFC 6902 "add"): a member set or replaced, or an array element
// inserted (at an index up to the size, or "-" for the end). False when the parent is missing.
bool add_at(rapidjson::Document& d, const rapidjson::Pointer& p, rapidjson::Value& v) {
  const std::size_t n = p.GetTokenCount();
  auto& a = d.GetAllocator();
  if (n == 0) {
    d.CopyFrom(v, a);
    return true;
  }
  const rapidjson::Pointer::Token* tokens = p.GetTokens();
  const rapidjson::Pointer parent_pointer(tokens, n - 1);  // borrows p's tokens
  rapidjson::Value* parent = parent_pointer.Get(d);
  if (parent == nullptr) return false;
  const auto& last = tokens[n - 1];
  if (parent->IsObject()) {
    const rapidjson::Value name(rapidjson::StringRef(last.name, last.length));
    if (auto it = parent->FindMember(name); it != parent->MemberEnd())
      it->value = v;  // moves
    else
      parent->AddMember(rapidjson::Value(last.name, last.length, a), v, a);
    return true;
  }
  if (!parent->IsArray()) return false;
  const rapidjson::SizeType size = parent->Size();
  rapidjson::SizeType at = size;
  if (!(last.length == 1 && last.name[0] == '-')) {
    if (last.index == rapidjson::kPointerInvalidIndex || last.index > size) return false;
    at = static_cast<rapidjson::SizeType>(last.index);
  }
  parent->PushBack(v, a);
  for (rapidjson::SizeType i = size; i > at; --i) (*parent)[i].Swap((*parent)[i - 1]);
  return true;
}

// The JSON values in `v` (itself included), counting no further than `limit` + 1.
std::size_t values_in(const rapidjson::Value& v, std::size_t limit) {
  std::size_t n = 1;
  if (v.IsArray()) {
    for (const auto& e : v.GetArray()) {
      if (n > limit) break;
      n += values_in(e, limit - n);
    }
  } else if (v.IsObject()) {
    for (const auto& m : v.GetObject()) {
      if (n > limit) break;
      n += values_in(m.value, limit - n);
    }
  }
  return n;
}

}  // namespace

patch_refusal patch_malformed(std::size_t index, std::string_view what) {
  return {400, "invalid",
          "JSON Patch operation " + std::to_string(index) + ": " + std::string(what)};
}

std::optional<patch_refusal> check_patch_array(const rapidjson::Value& ops,
                                               rapidjson::SizeType max_operations) {
  if (!ops.IsArray() || ops.Empty())
    return patch_refusal{400, "invalid", "a JSON Patch is a non-empty array of operations"};
  if (ops.Size() > max_operations)
    return patch_refusal{
        400, "too-long",
        "a JSON Patch has at most " + std::to_string(max_operations) + " operations"};
  return std::nullopt;
}

std::optional<patch_refusal> check_patch_operation(const rapidjson::Value& o, std::size_t i) {
  if (!o.IsObject() || !o.HasMember("op") || !o["op"].IsString())
    return patch_malformed(i, "op is missing");
  const std::string_view op(o["op"].GetString(), o["op"].GetStringLength());
  const bool needs_value = op == "add" || op == "replace" || op == "test";
  const bool needs_from = op == "move" || op == "copy";
  if (!needs_value && !needs_from && op != "remove")
    return patch_malformed(i, "op must be add, remove, replace, move, copy or test");
  if (!o.HasMember("path") || !valid_pointer(o["path"]))
    return patch_malformed(i, "path must be a JSON Pointer");
  if (needs_value && !o.HasMember("value")) return patch_malformed(i, "value is missing");
  if (needs_from && (!o.HasMember("from") || !valid_pointer(o["from"])))
    return patch_malformed(i, "from must be a JSON Pointer");
  return std::nullopt;
}

std::optional<patch_refusal> check_patch(const rapidjson::Value& ops,
                                         rapidjson::SizeType max_operations) {
  if (auto refused = check_patch_array(ops, max_operations)) return refused;
  for (rapidjson::SizeType i = 0; i < ops.Size(); ++i)
    if (auto refused = check_patch_operation(ops[i], i)) return refused;
  return std::nullopt;
}

std::optional<patch_refusal> apply_patch(rapidjson::Document& d, const rapidjson::Value& ops,
                                         std::string_view document, std::size_t max_copied_values) {
  auto& a = d.GetAllocator();
  std::size_t copied = 0;
  const auto not_there = [document](rapidjson::SizeType i) {
    return patch_refusal{422, "processing",
                         "JSON Patch operation " + std::to_string(i) +
                             " cannot be applied: its target is not in the " +
                             std::string(document)};
  };
  for (rapidjson::SizeType i = 0; i < ops.Size(); ++i) {
    const auto& o = ops[i];
    const std::string_view op(o["op"].GetString(), o["op"].GetStringLength());
    const rapidjson::Pointer path(o["path"].GetString(), o["path"].GetStringLength());
    if (op == "test") {
      const rapidjson::Value* at = path.Get(d);
      if (at == nullptr || *at != o["value"])
        return patch_refusal{409, "conflict",
                             "JSON Patch operation " + std::to_string(i) + " (test) failed"};
    } else if (op == "remove") {
      if (path.GetTokenCount() == 0 || !path.Erase(d)) return not_there(i);
    } else if (op == "replace") {
      rapidjson::Value* at = path.Get(d);
      if (at == nullptr) return not_there(i);
      at->CopyFrom(o["value"], a);
    } else if (op == "add") {
      rapidjson::Value v(o["value"], a);
      if (!add_at(d, path, v)) return not_there(i);
    } else {  // move, copy
      const std::string_view from_text(o["from"].GetString(), o["from"].GetStringLength());
      const std::string_view to_text(o["path"].GetString(), o["path"].GetStringLength());
      const rapidjson::Pointer from(o["from"].GetString(), o["from"].GetStringLength());
      const rapidjson::Value* src = from.Get(d);
      if (src == nullptr) return not_there(i);
      // Copying the document into itself doubles it: forty operations of a few bytes each would
      // ask for terabytes. Every other operation adds at most what the patch holds.
      if (op == "copy") {
        copied += values_in(*src, max_copied_values - copied);
        if (copied > max_copied_values)
          return patch_refusal{422, "too-costly",
                               "JSON Patch operation " + std::to_string(i) +
                                   ": the copies would add more than " +
                                   std::to_string(max_copied_values) + " values"};
      }
      rapidjson::Value v(*src, a);
      if (op == "move") {
        // A value cannot be moved into itself (RFC 6902 §4.4).
        if (to_text.starts_with(from_text) &&
            (to_text.size() == from_text.size() || to_text[from_text.size()] == '/')) {
          if (to_text.size() == from_text.size()) continue;  // onto itself: nothing to do
          return patch_malformed(i, "from must not be a prefix of path");
        }
        from.Erase(d);
      }
      if (!add_at(d, path, v)) return not_there(i);
    }
  }
  return std::nullopt;
}

void merge_patch(rapidjson::Value& target, const rapidjson::Value& patch,
                 rapidjson::Document::AllocatorType& allocator) {
  if (!patch.IsObject()) {
    target.CopyFrom(patch, allocator);
    return;
  }
  if (!target.IsObject()) target.SetObject();
  for (const auto& m : patch.GetObject()) {
    auto it = target.FindMember(m.name);
    if (m.value.IsNull()) {
      if (it != target.MemberEnd()) target.RemoveMember(it);
    } else if (it == target.MemberEnd()) {
      rapidjson::Value name(m.name, allocator);
      rapidjson::Value value(rapidjson::kNullType);
      merge_patch(value, m.value, allocator);
      target.AddMember(name, value, allocator);
    } else {
      merge_patch(it->value, m.value, allocator);
    }
  }
}

}  // namespace carebridge::mappings::fhir
