#include "core/printable_text.h"

#include <doctest/doctest.h>

using walstream::printableText;

TEST_CASE("printableText keeps valid UTF-8 and escapes everything else") {
  CHECK(printableText("plain ASCII, {\"json\": 1}") == "plain ASCII, {\"json\": 1}");
  CHECK(printableText("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80") ==
        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
  CHECK(printableText("a\nb\tc\x7f") == "a\\x0ab\\x09c\\x7f");
  CHECK(printableText("\xff\xfe") == "\\xff\\xfe");
  CHECK(printableText("\xc0\xaf") == "\\xc0\\xaf");                    // overlong '/'
  CHECK(printableText("\xed\xa0\x80") == "\\xed\\xa0\\x80");           // a surrogate
  CHECK(printableText("\xf4\x90\x80\x80") == "\\xf4\\x90\\x80\\x80");  // above U+10FFFF
  CHECK(printableText("\xe2\x82") == "\\xe2\\x82");                    // truncated sequence
  CHECK(printableText("\xc2\x85") == "\\xc2\\x85");                    // C1 control (NEL)
  CHECK(printableText(std::string_view("a\0b", 3)) == "a\\x00b");
}

TEST_CASE("printableText cuts long text at a character boundary") {
  CHECK(printableText(std::string(10, 'x'), 4) == "xxxx...");
  CHECK(printableText("ab\xc3\xa9\xc3\xa9", 3) == "ab\xc3\xa9...");
  CHECK(printableText("abc", 3) == "abc");
}
