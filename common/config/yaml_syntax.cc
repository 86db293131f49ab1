#include "common/config/yaml_syntax.h"

#include <sstream>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "common/config/yaml_proto.h"
#include "yaml-cpp/eventhandler.h"
#include "yaml-cpp/exceptions.h"
#include "yaml-cpp/parser.h"

namespace reitunnel::config::internal {
namespace {

// yaml-cpp appends offending input to a few messages ("unknown escape
// character: x"); the input may be a secret, so keep only the description.
std::string SyntaxDescription(const std::string& msg) {
  const std::size_t colon = msg.find(':');
  return colon == std::string::npos ? msg : msg.substr(0, colon);
}

// "cfg.yaml:3:5: ", "line 3, column 5: ", "cfg.yaml: " or "".
std::string Position(const std::string& source, const YAML::Mark& mark) {
  if (mark.is_null()) return source.empty() ? "" : absl::StrCat(source, ": ");
  const int line = mark.line + 1;
  const int column = mark.column + 1;
  if (source.empty()) return absl::StrCat("line ", line, ", column ", column, ": ");
  return absl::StrCat(source, ":", line, ":", column, ": ");
}

absl::Status SyntaxError(const std::string& source, const YAML::Mark& mark,
                         std::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat(Position(source, mark), "invalid YAML: ", std::string(what)));
}

std::string TooDeep() {
  return absl::StrCat("nested more than ", kMaxYamlNesting, " levels deep");
}

// Thrown by StructureCheck through yaml-cpp's parser, which unwinds cleanly
// from exceptions (its own errors are exceptions).
struct TooDeepError {
  YAML::Mark mark;
};

// Watches the event stream for what the node tree cannot tell: how deep the
// text nests and how many documents there are. The depth is checked as the
// parser descends, so its recursion stops at kMaxYamlNesting levels, before
// yaml-cpp's own guard (near 500 levels, reported as "bad file").
class StructureCheck : public YAML::EventHandler {
 public:
  int documents() const { return documents_; }
  const YAML::Mark& second_document() const { return second_document_; }

  void OnDocumentStart(const YAML::Mark& mark) override {
    if (++documents_ == 2) second_document_ = mark;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    Enter(mark);
  }
  void OnSequenceEnd() override { --depth_; }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    Enter(mark);
  }
  void OnMapEnd() override { --depth_; }

 private:
  void Enter(const YAML::Mark& mark) {
    if (++depth_ > kMaxYamlNesting) throw TooDeepError{mark};
  }

  int depth_ = 0;
  int documents_ = 0;
  YAML::Mark second_document_;
};

// Remembers where the last scalar of the text started.
class LastScalar : public YAML::EventHandler {
 public:
  bool found() const { return found_; }
  const YAML::Mark& mark() const { return mark_; }

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string&) override {
    mark_ = mark;
    found_ = true;
  }
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

 private:
  YAML::Mark mark_;
  bool found_ = false;
};

// yaml-cpp 0.7 reports a quoted scalar left open at the end of the text only
// when no line break follows it; with one (the usual last line of a file) it
// closes the scalar at the end of the input, and `token: "abc` plus newline
// loads as a token, as do any lines after the opening quote. So the text is
// checked without its trailing blank space, where the missing quote does
// show, and the position reported is where the quote opened: the last
// scalar of the text parsed with a line break after it (that same bug makes
// the open scalar a scalar there).
absl::Status Unterminated(const std::string& source, std::string_view body,
                          const YAML::Mark& end) {
  YAML::Mark opened = end;
  std::istringstream in{std::string(body) + "\n"};
  LastScalar last;
  try {
    YAML::Parser parser(in);
    // The open scalar is in the first two documents (CheckStructure stops at
    // the second). A third means yaml-cpp 0.7 is producing empty documents
    // forever (a ',' after a top-level node, never consumed) and the open
    // scalar never came out as one: then the end is all there is.
    bool complete = false;
    for (int docs = 0; docs < 3; ++docs) {
      if (!parser.HandleNextDocument(last)) {
        complete = true;
        break;
      }
    }
    if (complete && last.found()) opened = last.mark();
  } catch (const YAML::Exception&) {
    // A yaml-cpp that reports it in this form too: the end is all there is.
  }
  return SyntaxError(source, opened, "unterminated quoted string (no closing quote)");
}

}  // namespace

absl::Status CheckYamlSyntax(std::string_view yaml, const std::string& source) {
  // Trailing blank lines and spaces carry no structure (only the end of a
  // block scalar's content, which the load keeps): without them an open
  // quoted scalar shows as one.
  std::string_view body = yaml;
  while (!body.empty() && (body.back() == ' ' || body.back() == '\t' || body.back() == '\n' ||
                           body.back() == '\r')) {
    body.remove_suffix(1);
  }
  std::istringstream in{std::string(body)};
  StructureCheck check;
  try {
    YAML::Parser parser(in);
    // Stops at the second document: yaml-cpp 0.7 never consumes a ',' after
    // a top-level node (`[a],`) and yields empty documents forever (which
    // YAML::LoadAll collected until memory ran out).
    while (parser.HandleNextDocument(check)) {
      if (check.documents() > 1) {
        return absl::InvalidArgumentError(
            absl::StrCat(Position(source, check.second_document()),
                         "expected a single YAML document, found a second one here"));
      }
    }
  } catch (const TooDeepError& e) {
    return SyntaxError(source, e.mark, TooDeep());
  } catch (const YAML::Exception& e) {
    if (e.msg == YAML::ErrorMsg::EOF_IN_SCALAR) return Unterminated(source, body, e.mark);
    return YamlSyntaxError(source, e.mark, e.msg);
  }
  return absl::OkStatus();
}

absl::Status YamlSyntaxError(const std::string& source, const YAML::Mark& mark,
                             const std::string& yaml_cpp_message) {
  return SyntaxError(source, mark, SyntaxDescription(yaml_cpp_message));
}

}  // namespace reitunnel::config::internal
