#include "tests/support/time_scale.h"

#include <cstdlib>
#include <string>

namespace walstream::test {

int timeScale() {
  static const int scale = [] {
    const char* text = std::getenv("WALSTREAM_TEST_TIME_SCALE");
    if (!text) return 1;
    try {
      const int v = std::stoi(text);
      return v >= 1 && v <= 100 ? v : 1;
    } catch (const std::exception&) {
      return 1;
    }
  }();
  return scale;
}

}  // namespace walstream::test
