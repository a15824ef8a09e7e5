// RFC 6902 JSON Patch over RapidJSON values: the shape of a patch checked, then its operations
// applied to a document in order. Pure: no I/O, and no policy about what a patch may change (the
// FHIR API's Task PATCH keeps its own list of elements, adapters/fhir_rest/subscription_api.cpp).
// JSON Pointers (RFC 6901, "~0" for '~' and "~1" for '/') are rapidjson::Pointer's; the URI
// fragment form ("#/a") is not a JSON Patch path and is refused.
//
// What it does (RFC 6902 §4): add (an object member set or replaced; an array element inserted at
// an index up to the size, or appended with "-"; "" replaces the whole document), remove, replace,
// move (a move into the moved value's own child is refused, a move onto itself does nothing), copy
// and test (equal as JSON: numbers by value, objects whatever the order of their members). Members
// of an operation other than op, path, from and value are ignored.
//
// What it does not do:
//   - apply atomically: apply_patch changes the document in place and leaves it half-changed when
//     an operation is refused, so callers apply it to a copy (the Task PATCH does);
//   - limit depth: the document and the patch are as deep as their parser allowed;
//   - limit size, but for copies: the other operations add at most what the patch holds, whereas
//     copying the document into itself doubles it, so copies have a budget (max_copied_values);
//   - remove the whole document (path ""): that is a missing target;
//   - FHIRPath Patch.
// And merge_patch(): RFC 7386 JSON Merge Patch, for the gateway's own partial updates of a stored
// resource (a follow-up Task cancelled by a retraction keeps what its group wrote on it).
//
// Refusals carry an HTTP status and an OperationOutcome issue code for the FHIR API, and a text
// that names the operation by its position, never its values (which may be PHI).
#pragma once

#include <rapidjson/document.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace carebridge::mappings::fhir {

struct patch_refusal {
  unsigned status;   // 400 malformed; 409 a failed test; 422 a target that is not there
  std::string code;  // OperationOutcome issue code: invalid, too-long, conflict, processing,
                     // too-costly
  std::string text;  // names the operation by its position, never echoes its values
};

/// The refusal of operation `index` as malformed: 400 invalid, "JSON Patch operation <index>:
/// what".
patch_refusal patch_malformed(std::size_t index, std::string_view what);

/// The shape of a patch: a non-empty array (400 invalid) of at most `max_operations` operations
/// (400 too-long).
std::optional<patch_refusal> check_patch_array(const rapidjson::Value& ops,
                                               rapidjson::SizeType max_operations);

/// The shape of operation `index` (400 invalid): an object with an "op" of the six, a "path" that
/// is a JSON Pointer, a "value" for add, replace and test, a "from" that is a JSON Pointer for move
/// and copy.
std::optional<patch_refusal> check_patch_operation(const rapidjson::Value& op, std::size_t index);

/// check_patch_array, then check_patch_operation on each operation in order.
std::optional<patch_refusal> check_patch(const rapidjson::Value& ops,
                                         rapidjson::SizeType max_operations);

/// Applies operations that check_patch accepted to `d`, in order. A failed test is 409 conflict; a
/// target (or from, or an add's parent) that is not there, 422 processing, with a text that calls
/// the document `document` ("its target is not in the Task"); a move into its own child, 400
/// invalid; copies that would add more than `max_copied_values` JSON values in all (each object,
/// array, string, number, boolean and null counts one), 422 too-costly. On a refusal `d` is
/// half-changed: apply to a copy.
std::optional<patch_refusal> apply_patch(rapidjson::Document& d, const rapidjson::Value& ops,
                                         std::string_view document = "document",
                                         std::size_t max_copied_values = 10000);

/// RFC 7386 JSON Merge Patch: each member of an object `patch` replaces the target's member of that
/// name (null removes it; an object merges into an object, recursively); a patch that is not an
/// object replaces the whole target. Recursion is as deep as the patch (the gateway's own).
void merge_patch(rapidjson::Value& target, const rapidjson::Value& patch,
                 rapidjson::Document::AllocatorType& allocator);

}  // namespace carebridge::mappings::fhir
