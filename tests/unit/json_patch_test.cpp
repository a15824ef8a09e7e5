// RFC 6902 JSON Patch (mappings/fhir/json_patch.hpp): the shape checks, each operation, pointer
// escapes, missing targets, and what a refused patch leaves behind. The cases are modelled on the
// RFC's appendix A examples with documents of our own.
#include "mappings/fhir/json_patch.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>

namespace {

namespace f = carebridge::mappings::fhir;

rapidjson::Document parse(std::string_view json) {
  rapidjson::Document d;
  d.Parse(json.data(), json.size());
  EXPECT_FALSE(d.HasParseError()) << json;
  return d;
}

std::string text(const rapidjson::Value& v) {
  rapidjson::StringBuffer b;
  rapidjson::Writer<rapidjson::StringBuffer> w(b);
  v.Accept(w);
  return {b.GetString(), b.GetSize()};
}

// What applying `patch` to `doc` gives: the document, or the refusal's status and code
// ("400 invalid"). The patch goes through check_patch first, as every caller must.
struct outcome {
  std::string json;     // the patched document, when it applied
  std::string refusal;  // "<status> <code>", when it did not
  std::string text;     // the refusal's text
};

outcome run(std::string_view doc, std::string_view patch) {
  auto d = parse(doc);
  const auto ops = parse(patch);
  auto refused = f::check_patch(ops, 100);
  if (!refused) refused = f::apply_patch(d, ops, "Task");
  if (refused) return {"", std::to_string(refused->status) + " " + refused->code, refused->text};
  return {text(d), "", ""};
}

// The patched document is `expected`, members in the same order (RapidJSON's == ignores order).
void expect_json(const outcome& o, std::string_view expected) {
  ASSERT_EQ(o.refusal, "") << o.text;
  EXPECT_EQ(o.json, text(parse(expected)));
}

// --- add ----------------------------------------------------------------------------------------

TEST(JsonPatchRfc6902, AddsAnObjectMember) {
  expect_json(
      run(R"({"status":"requested"})", R"([{"op":"add","path":"/priority","value":"urgent"}])"),
      R"({"status":"requested","priority":"urgent"})");
}

TEST(JsonPatchRfc6902, AddReplacesAnExistingMemberInPlace) {
  expect_json(run(R"({"a":1,"b":2})", R"([{"op":"add","path":"/a","value":[3]}])"),
              R"({"a":[3],"b":2})");
}

TEST(JsonPatchRfc6902, AddsAnArrayElementAtAnIndexShiftingTheRest) {
  expect_json(run(R"({"note":["x","z"]})", R"([{"op":"add","path":"/note/1","value":"y"}])"),
              R"({"note":["x","y","z"]})");
  expect_json(run(R"({"note":["x"]})", R"([{"op":"add","path":"/note/0","value":"w"}])"),
              R"({"note":["w","x"]})");
  // An index equal to the size appends; one past it is not there.
  expect_json(run(R"({"note":["x"]})", R"([{"op":"add","path":"/note/1","value":"y"}])"),
              R"({"note":["x","y"]})");
  EXPECT_EQ(run(R"({"note":["x"]})", R"([{"op":"add","path":"/note/2","value":"y"}])").refusal,
            "422 processing");
  EXPECT_EQ(run(R"({"note":["x"]})", R"([{"op":"add","path":"/note/x","value":"y"}])").refusal,
            "422 processing");
}

TEST(JsonPatchRfc6902, AddWithDashAppends) {
  expect_json(run(R"({"note":[1,2]})", R"([{"op":"add","path":"/note/-","value":{"t":3}}])"),
              R"({"note":[1,2,{"t":3}]})");
  expect_json(run(R"([])", R"([{"op":"add","path":"/-","value":1}])"), "[1]");
}

TEST(JsonPatchRfc6902, AddsANestedMember) {
  expect_json(run(R"({"a":{"b":{}}})", R"([{"op":"add","path":"/a/b/c","value":null}])"),
              R"({"a":{"b":{"c":null}}})");
}

TEST(JsonPatchRfc6902, AddAtTheRootReplacesTheDocument) {
  expect_json(run(R"({"a":1})", R"([{"op":"add","path":"","value":["whole"]}])"), R"(["whole"])");
}

TEST(JsonPatchRfc6902, AddNeedsAnExistingParent) {
  // RFC 6902 A.12: adding to a member that does not exist is an error, not an implicit object.
  const auto o = run(R"({"a":1})", R"([{"op":"add","path":"/missing/b","value":1}])");
  EXPECT_EQ(o.refusal, "422 processing");
  EXPECT_EQ(o.text, "JSON Patch operation 0 cannot be applied: its target is not in the Task");
  // A scalar has no children.
  EXPECT_EQ(run(R"({"a":1})", R"([{"op":"add","path":"/a/b","value":1}])").refusal,
            "422 processing");
}

// --- remove -------------------------------------------------------------------------------------

TEST(JsonPatchRfc6902, RemovesAMemberAndAnArrayElement) {
  expect_json(run(R"({"a":1,"b":2})", R"([{"op":"remove","path":"/a"}])"), R"({"b":2})");
  expect_json(run(R"({"n":["x","y","z"]})", R"([{"op":"remove","path":"/n/1"}])"),
              R"({"n":["x","z"]})");
}

TEST(JsonPatchRfc6902, RemoveOfWhatIsNotThereIsRefused) {
  EXPECT_EQ(run(R"({"a":1})", R"([{"op":"remove","path":"/b"}])").refusal, "422 processing");
  EXPECT_EQ(run(R"({"n":[1]})", R"([{"op":"remove","path":"/n/1"}])").refusal, "422 processing");
  EXPECT_EQ(run(R"({"n":[1]})", R"([{"op":"remove","path":"/n/-"}])").refusal, "422 processing");
  // The whole document cannot be removed.
  EXPECT_EQ(run(R"({"a":1})", R"([{"op":"remove","path":""}])").refusal, "422 processing");
}

// --- replace ------------------------------------------------------------------------------------

TEST(JsonPatchRfc6902, ReplacesAValue) {
  expect_json(run(R"({"status":"requested","n":[1,2]})",
                  R"([{"op":"replace","path":"/status","value":{"x":[true]}},
                      {"op":"replace","path":"/n/0","value":9}])"),
              R"({"status":{"x":[true]},"n":[9,2]})");
  expect_json(run(R"({"a":1})", R"([{"op":"replace","path":"","value":"all"}])"), R"("all")");
}

TEST(JsonPatchRfc6902, ReplaceOfWhatIsNotThereIsRefused) {
  // Unlike add, replace does not create.
  EXPECT_EQ(run(R"({"a":1})", R"([{"op":"replace","path":"/b","value":2}])").refusal,
            "422 processing");
  EXPECT_EQ(run(R"({"n":[]})", R"([{"op":"replace","path":"/n/0","value":2}])").refusal,
            "422 processing");
}

// --- move ---------------------------------------------------------------------------------------

TEST(JsonPatchRfc6902, MovesAMember) {
  // RFC 6902 A.6: from one object into another.
  expect_json(run(R"({"old":{"keep":1,"go":"v"},"new":{"here":2}})",
                  R"([{"op":"move","from":"/old/go","path":"/new/went"}])"),
              R"({"old":{"keep":1},"new":{"here":2,"went":"v"}})");
}

TEST(JsonPatchRfc6902, MovesAnArrayElementAsRemoveThenAdd) {
  // RFC 6902 A.7: the index of `path` counts after the removal.
  expect_json(run(R"({"n":["a","b","c","d"]})", R"([{"op":"move","from":"/n/1","path":"/n/3"}])"),
              R"({"n":["a","c","d","b"]})");
}

TEST(JsonPatchRfc6902, MoveIntoItsOwnChildIsRefused) {
  const auto o = run(R"({"a":{"b":{}}})", R"([{"op":"move","from":"/a","path":"/a/b/c"}])");
  EXPECT_EQ(o.refusal, "400 invalid");
  EXPECT_EQ(o.text, "JSON Patch operation 0: from must not be a prefix of path");
  // The whole document into one of its members, likewise.
  EXPECT_EQ(run(R"({"a":{}})", R"([{"op":"move","from":"","path":"/a/x"}])").refusal,
            "400 invalid");
}

TEST(JsonPatchRfc6902, MoveToASiblingWhoseNameStartsTheSameIsAllowed) {
  expect_json(run(R"({"a":1})", R"([{"op":"move","from":"/a","path":"/ab"}])"), R"({"ab":1})");
}

TEST(JsonPatchRfc6902, MoveOntoItselfChangesNothing) {
  expect_json(run(R"({"a":[1,2]})", R"([{"op":"move","from":"/a","path":"/a"}])"),
              R"({"a":[1,2]})");
}

TEST(JsonPatchRfc6902, MoveFromWhatIsNotThereIsRefused) {
  EXPECT_EQ(run(R"({"a":1})", R"([{"op":"move","from":"/b","path":"/c"}])").refusal,
            "422 processing");
  EXPECT_EQ(run(R"({"a":1})", R"([{"op":"move","from":"/b","path":"/b"}])").refusal,
            "422 processing");
}

// --- copy ---------------------------------------------------------------------------------------

TEST(JsonPatchRfc6902, CopiesAValueLeavingTheSource) {
  expect_json(run(R"({"a":{"x":[1]},"n":[0]})",
                  R"([{"op":"copy","from":"/a","path":"/b"},
                      {"op":"copy","from":"/a/x/0","path":"/n/0"}])"),
              R"({"a":{"x":[1]},"n":[1,0],"b":{"x":[1]}})");
}

TEST(JsonPatchRfc6902, ACopyIsIndependentOfItsSource) {
  expect_json(run(R"({"a":{"x":1}})", R"([{"op":"copy","from":"/a","path":"/b"},
                                          {"op":"replace","path":"/b/x","value":2}])"),
              R"({"a":{"x":1},"b":{"x":2}})");
}

TEST(JsonPatchRfc6902, CopiesTheWholeDocumentIntoItself) {
  expect_json(run(R"({"a":1})", R"([{"op":"copy","from":"","path":"/self"}])"),
              R"({"a":1,"self":{"a":1}})");
}

TEST(JsonPatchRfc6902, CopyFromWhatIsNotThereIsRefused) {
  EXPECT_EQ(run(R"({"a":1})", R"([{"op":"copy","from":"/b","path":"/c"}])").refusal,
            "422 processing");
  EXPECT_EQ(run(R"({"a":1})", R"([{"op":"copy","from":"/a","path":"/x/y"}])").refusal,
            "422 processing");
}

TEST(JsonPatchRfc6902, CopiesHaveABudgetSoThatADocumentCannotDoubleItselfAway) {
  // Forty copies of the document into its own array would make 2^40 copies of it.
  std::string patch = "[";
  for (int i = 0; i < 40; ++i)
    patch += std::string(i ? "," : "") + R"({"op":"copy","from":"","path":"/note/-"})";
  patch += "]";
  const auto o = run(R"({"status":"requested","note":[]})", patch);
  EXPECT_EQ(o.refusal, "422 too-costly");
  // {"status","note":[]} is 3 values, and copy k copies 3 * 2^k: 6141 in all after copies 0-10,
  // 12285 with copy 11.
  EXPECT_EQ(o.text, "JSON Patch operation 11: the copies would add more than 10000 values");
  // The budget is the caller's; a copy within it goes through.
  auto d = parse(R"({"a":[1,2,3]})");
  const auto ops =
      parse(R"([{"op":"copy","from":"/a","path":"/b"},{"op":"copy","from":"/a","path":"/c"}])");
  EXPECT_FALSE(f::apply_patch(d, ops, "document", 8));
  auto e = parse(R"({"a":[1,2,3]})");
  const auto r = f::apply_patch(e, ops, "document", 7);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 422u);
  EXPECT_EQ(r->text, "JSON Patch operation 1: the copies would add more than 7 values");
}

// --- test ---------------------------------------------------------------------------------------

TEST(JsonPatchRfc6902, TestComparesDeeply) {
  // RFC 6902 A.14-style: objects whatever their member order, arrays in order, numbers by value.
  expect_json(run(R"({"a":{"x":[1,{"y":"z"}],"w":null},"n":10})",
                  R"([{"op":"test","path":"/a","value":{"w":null,"x":[1,{"y":"z"}]}},
                      {"op":"test","path":"/n","value":10.0},
                      {"op":"test","path":"","value":{"n":10,"a":{"x":[1,{"y":"z"}],"w":null}}}])"),
              R"({"a":{"x":[1,{"y":"z"}],"w":null},"n":10})");
}

TEST(JsonPatchRfc6902, TestFailsOnADifferentValue) {
  const auto o = run(R"({"a":[1,2]})", R"([{"op":"test","path":"/a","value":[2,1]}])");
  EXPECT_EQ(o.refusal, "409 conflict");
  EXPECT_EQ(o.text, "JSON Patch operation 0 (test) failed");
  EXPECT_EQ(run(R"({"a":{"x":1}})", R"([{"op":"test","path":"/a","value":{"x":1,"y":2}}])").refusal,
            "409 conflict");
  EXPECT_EQ(run(R"({"a":"x"})", R"([{"op":"test","path":"/a","value":"X"}])").refusal,
            "409 conflict");
}

TEST(JsonPatchRfc6902, TestFailsOnADifferentType) {
  // RFC 6902 A.15-style: "10" is not 10, null is not false, [] is not {}.
  EXPECT_EQ(run(R"({"a":"10"})", R"([{"op":"test","path":"/a","value":10}])").refusal,
            "409 conflict");
  EXPECT_EQ(run(R"({"a":null})", R"([{"op":"test","path":"/a","value":false}])").refusal,
            "409 conflict");
  EXPECT_EQ(run(R"({"a":[]})", R"([{"op":"test","path":"/a","value":{}}])").refusal,
            "409 conflict");
  EXPECT_EQ(run(R"({"a":1})", R"([{"op":"test","path":"/a","value":true}])").refusal,
            "409 conflict");
}

TEST(JsonPatchRfc6902, TestOfWhatIsNotThereFails) {
  EXPECT_EQ(run(R"({"a":1})", R"([{"op":"test","path":"/b","value":null}])").refusal,
            "409 conflict");
}

// --- pointers -----------------------------------------------------------------------------------

TEST(JsonPatchRfc6902, PointerEscapesNameTildeAndSlash) {
  // RFC 6902 A.13-style: "~1" is '/', "~0" is '~', and "~01" is "~1" (not '/').
  expect_json(run(R"({"a/b":1,"m~n":2,"~1":3})", R"([{"op":"replace","path":"/a~1b","value":10},
                                                    {"op":"test","path":"/m~0n","value":2},
                                                    {"op":"remove","path":"/~01"}])"),
              R"({"a/b":10,"m~n":2})");
  expect_json(run(R"({})", R"([{"op":"add","path":"/~0~1","value":true}])"), R"({"~/":true})");
  // A slash inside a name is not a level, so a move into a similarly named sibling is allowed.
  expect_json(run(R"({"a":1})", R"([{"op":"move","from":"/a","path":"/a~1b"}])"), R"({"a/b":1})");
}

TEST(JsonPatchRfc6902, EmptyNamesAreNames) {
  expect_json(run(R"({"":{"":1}})", R"([{"op":"replace","path":"//","value":2}])"),
              R"({"":{"":2}})");
}

TEST(JsonPatchRfc6902, NumericNamesOfObjectsAreMembers) {
  expect_json(run(R"({"o":{}})", R"([{"op":"add","path":"/o/0","value":1}])"), R"({"o":{"0":1}})");
}

// --- shape checks -------------------------------------------------------------------------------

TEST(JsonPatchRfc6902, APatchIsANonEmptyArrayOfObjects) {
  for (const char* patch :
       {R"({"op":"remove","path":"/a"})", R"([])", R"("add")", R"(null)", R"(42)"}) {
    const auto r = f::check_patch(parse(patch), 100);
    ASSERT_TRUE(r) << patch;
    EXPECT_EQ(r->status, 400u);
    EXPECT_EQ(r->code, "invalid");
    EXPECT_EQ(r->text, "a JSON Patch is a non-empty array of operations");
  }
  const auto r = f::check_patch(parse(R"([{"op":"remove","path":"/a"}, 7])"), 100);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->text, "JSON Patch operation 1: op is missing");
}

TEST(JsonPatchRfc6902, TheOperationCountIsCapped) {
  const auto ops = parse(R"([{"op":"test","path":"","value":1},{"op":"test","path":"","value":1},
                             {"op":"test","path":"","value":1}])");
  EXPECT_FALSE(f::check_patch(ops, 3));
  const auto r = f::check_patch(ops, 2);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400u);
  EXPECT_EQ(r->code, "too-long");
  EXPECT_EQ(r->text, "a JSON Patch has at most 2 operations");
}

TEST(JsonPatchRfc6902, MalformedOperationsAreNamedByPosition) {
  const struct {
    const char* op;
    const char* text;
  } cases[] = {
      {R"({"path":"/a"})", "op is missing"},
      {R"({"op":7,"path":"/a"})", "op is missing"},
      {R"({"op":"delete","path":"/a"})", "op must be add, remove, replace, move, copy or test"},
      {R"({"op":"Add","path":"/a","value":1})",
       "op must be add, remove, replace, move, copy or test"},
      {R"({"op":"remove"})", "path must be a JSON Pointer"},
      {R"({"op":"remove","path":3})", "path must be a JSON Pointer"},
      {R"({"op":"remove","path":"a"})", "path must be a JSON Pointer"},
      {R"({"op":"remove","path":"#/a"})", "path must be a JSON Pointer"},
      {R"({"op":"remove","path":"/a~2"})", "path must be a JSON Pointer"},
      {R"({"op":"remove","path":"/a~"})", "path must be a JSON Pointer"},
      {R"({"op":"add","path":"/a"})", "value is missing"},
      {R"({"op":"replace","path":"/a"})", "value is missing"},
      {R"({"op":"test","path":"/a"})", "value is missing"},
      {R"({"op":"move","path":"/a"})", "from must be a JSON Pointer"},
      {R"({"op":"copy","path":"/a","from":"b"})", "from must be a JSON Pointer"},
      {R"({"op":"copy","path":"/a","from":null})", "from must be a JSON Pointer"},
  };
  for (const auto& c : cases) {
    const std::string patch = std::string(R"([{"op":"test","path":"","value":0},)") + c.op + "]";
    const auto r = f::check_patch(parse(patch), 100);
    ASSERT_TRUE(r) << c.op;
    EXPECT_EQ(r->status, 400u) << c.op;
    EXPECT_EQ(r->code, "invalid") << c.op;
    EXPECT_EQ(r->text, std::string("JSON Patch operation 1: ") + c.text) << c.op;
  }
}

TEST(JsonPatchRfc6902, ExtraMembersAndAValueOfNullAreAccepted) {
  // RFC 6902 §4: members an operation does not use are ignored; "value": null is a value.
  expect_json(run(R"({"a":1})", R"([{"op":"replace","path":"/a","value":null,"from":7,"x":1},
                                    {"op":"remove","path":"/a","value":"ignored"}])"),
              R"({})");
}

TEST(JsonPatchRfc6902, CheckPatchOperationAloneChecksOneOperation) {
  EXPECT_FALSE(f::check_patch_operation(parse(R"({"op":"remove","path":"/a"})"), 0));
  const auto r = f::check_patch_operation(parse(R"([1])"), 4);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->text, "JSON Patch operation 4: op is missing");
  EXPECT_FALSE(f::check_patch_array(parse(R"([1])"), 1));  // the array only
}

// --- sequences and atomicity --------------------------------------------------------------------

TEST(JsonPatchRfc6902, OperationsApplyInOrderEachSeeingTheLast) {
  expect_json(run(R"({"status":"requested"})",
                  R"([{"op":"test","path":"/status","value":"requested"},
                      {"op":"replace","path":"/status","value":"in-progress"},
                      {"op":"add","path":"/note","value":[]},
                      {"op":"add","path":"/note/-","value":{"text":"called"}},
                      {"op":"copy","from":"/note/0","path":"/note/0"},
                      {"op":"test","path":"/note/1/text","value":"called"},
                      {"op":"remove","path":"/note/0"}])"),
              R"({"status":"in-progress","note":[{"text":"called"}]})");
}

TEST(JsonPatchRfc6902, ARefusalNamesTheOperationThatFailed) {
  const auto o = run(R"({"a":1})", R"([{"op":"remove","path":"/a"},{"op":"remove","path":"/a"}])");
  EXPECT_EQ(o.refusal, "422 processing");
  EXPECT_EQ(o.text, "JSON Patch operation 1 cannot be applied: its target is not in the Task");
  // The document's name in the text is the caller's.
  auto d = parse(R"({})");
  const auto r = f::apply_patch(d, parse(R"([{"op":"remove","path":"/x"}])"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->text, "JSON Patch operation 0 cannot be applied: its target is not in the document");
}

TEST(JsonPatchRfc6902, ARefusedPatchLeavesTheOriginalOfACopyUntouched) {
  // apply_patch works in place and stops at the first refusal with the operations before it made:
  // callers apply it to a copy, and the original is what it was.
  const auto original = parse(R"({"status":"requested","note":[{"text":"a"}]})");
  const std::string before = text(original);
  for (const char* patch : {
           R"([{"op":"replace","path":"/status","value":"completed"},
               {"op":"add","path":"/note/0/text","value":"changed"},
               {"op":"test","path":"/status","value":"requested"}])",
           R"([{"op":"remove","path":"/note/0"},{"op":"remove","path":"/missing"}])",
           R"([{"op":"move","from":"/note","path":"/moved"},
               {"op":"move","from":"/moved","path":"/moved/0/x"}])",
       }) {
    const auto ops = parse(patch);
    ASSERT_FALSE(f::check_patch(ops, 100)) << patch;
    rapidjson::Document copy;
    copy.CopyFrom(original, copy.GetAllocator());
    EXPECT_TRUE(f::apply_patch(copy, ops)) << patch;
    EXPECT_NE(text(copy), before) << patch;  // half-changed, as the header says
    EXPECT_EQ(text(original), before) << patch;
  }
}

}  // namespace

// --- JSON Merge Patch (RFC 7386) ------------------------------------------------------------------

std::string merged(std::string_view target, std::string_view patch) {
  auto d = parse(target);
  const auto p = parse(patch);
  f::merge_patch(d, p, d.GetAllocator());
  return text(d);
}

TEST(JsonMergePatch, MembersAreReplacedAddedOrRemovedAndObjectsMergeRecursively) {
  EXPECT_EQ(merged(R"({"status":"requested","note":[{"text":"called"}],"a":{"b":1,"c":2}})",
                   R"({"status":"cancelled","statusReason":{"text":"why"},"a":{"c":null,"d":3}})"),
            R"({"status":"cancelled","note":[{"text":"called"}],"a":{"b":1,"d":3},"statusReason":{"text":"why"}})");
  // Arrays are values: replaced whole, never merged element by element.
  EXPECT_EQ(merged(R"({"note":[1,2,3]})", R"({"note":[4]})"), R"({"note":[4]})");
  // Removing what is not there changes nothing; a non-object target becomes an object.
  EXPECT_EQ(merged(R"({"a":1})", R"({"b":null})"), R"({"a":1})");
  EXPECT_EQ(merged(R"([1,2])", R"({"a":{"b":null,"c":1}})"), R"({"a":{"c":1}})");
  // A patch that is not an object replaces the whole document.
  EXPECT_EQ(merged(R"({"a":1})", R"(["x"])"), R"(["x"])");
  EXPECT_EQ(merged(R"({"a":1})", R"({})"), R"({"a":1})");
}
