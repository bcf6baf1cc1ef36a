#include "cli/flags.h"

#include <charconv>

namespace walstream::cli {

void Flags::define(std::string name, std::string valueName, std::string defaultValue,
                   std::string help) {
  order_.push_back(name);
  values_[name] = defaultValue;
  defs_[name] = {std::move(valueName), std::move(defaultValue), std::move(help)};
}

void Flags::defineRepeatable(std::string name, std::string valueName, std::string help) {
  define(name, std::move(valueName), "", std::move(help));
  defs_[name].repeatable = true;
  lists_[name] = {};
}

bool Flags::repeatable(const std::string& name) const {
  auto it = defs_.find(name);
  return it != defs_.end() && it->second.repeatable;
}

const std::vector<std::string>& Flags::list(const std::string& name) const {
  return lists_.at(name);
}

// A value for `name` from the command line or a file. A repeatable flag set again appends,
// unless its values so far came from elsewhere (a file's yield to the command line's).
void Flags::setValue(const std::string& name, const std::string& value) {
  values_[name] = value;
  if (repeatable(name)) lists_[name].push_back(value);
}

bool Flags::parse(const std::vector<std::string>& args) {
  bool onlyPositional = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (onlyPositional || a.size() < 2 || a[0] != '-') {
      positional_.push_back(a);
      continue;
    }
    if (a == "--") {
      onlyPositional = true;
      continue;
    }
    if (a == "-h" || a == "--help") return false;
    std::string body = a.substr(a[1] == '-' ? 2 : 1);
    std::string name = body, value;
    bool hasValue = false;
    if (auto eq = body.find('='); eq != std::string::npos) {
      name = body.substr(0, eq);
      value = body.substr(eq + 1);
      hasValue = true;
    }
    auto it = defs_.find(name);
    if (it == defs_.end()) throw UsageError("unknown flag --" + name);
    if (it->second.valueName.empty()) {
      if (hasValue && value != "true" && value != "false") {
        throw UsageError("flag --" + name + " takes no value");
      }
      values_[name] = hasValue ? value : "true";
    } else {
      if (!hasValue) {
        if (i + 1 >= args.size()) throw UsageError("flag --" + name + " needs a value");
        value = args[++i];
      }
      setValue(name, value);
    }
    given_[name] = true;
  }
  return true;
}

void Flags::setFromFile(const std::string& name, const std::string& value,
                        const std::string& origin) {
  auto it = defs_.find(name);
  if (it == defs_.end()) throw UsageError(origin + ": unknown key \"" + name + "\"");
  if (it->second.valueName.empty() && value != "true" && value != "false") {
    throw UsageError(origin + ": invalid value \"" + value + "\" for " + name +
                     ": want true or false");
  }
  if (onCommandLine(name)) return;
  setValue(name, value);
  origins_[name] = origin;
  given_[name] = true;
}

UsageError Flags::error(const std::string& name, const std::string& message) const {
  auto origin = origins_.find(name);
  return UsageError(origin == origins_.end() ? message : origin->second + ": " + message);
}

UsageError Flags::invalidValue(const std::string& name, const std::string& want) const {
  auto origin = origins_.find(name);
  const std::string subject = origin == origins_.end() ? "--" + name : name;
  return error(name, "invalid value \"" + values_.at(name) + "\" for " + subject + ": " + want);
}

std::string Flags::str(const std::string& name) const {
  return values_.at(name);
}

bool Flags::boolean(const std::string& name) const {
  return values_.at(name) == "true";
}

uint64_t Flags::u64(const std::string& name) const {
  const std::string& v = values_.at(name);
  uint64_t out = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || p != v.data() + v.size() || v.empty()) {
    throw invalidValue(name, "want a whole number");
  }
  return out;
}

uint32_t Flags::u32(const std::string& name, uint32_t min) const {
  constexpr uint32_t kMax = std::numeric_limits<uint32_t>::max();
  const uint64_t v = u64(name);
  if (v < min || v > kMax) {
    throw invalidValue(name, "want " + std::to_string(min) + " to " + std::to_string(kMax));
  }
  return static_cast<uint32_t>(v);
}

std::chrono::milliseconds Flags::duration(const std::string& name) const {
  try {
    return parseDuration(values_.at(name));
  } catch (const std::invalid_argument&) {
    throw invalidValue(name, "want a duration like 500ms, 10s, 1m");
  }
}

uint64_t Flags::bytes(const std::string& name) const {
  try {
    return parseByteSize(values_.at(name));
  } catch (const std::invalid_argument&) {
    throw invalidValue(name, "want a size like 4096, 64KiB, 512MiB, 1GiB");
  }
}

std::string Flags::help() const {
  std::string out;
  for (const auto& name : order_) {
    const Def& d = defs_.at(name);
    const std::string dashes = name.size() == 1 ? "-" : "--";
    std::string left = "  " + dashes + name + (d.valueName.empty() ? "" : " " + d.valueName);
    if (left.size() < 32)
      left.resize(32, ' ');
    else
      left += "\n" + std::string(32, ' ');
    out += left + d.help + (d.repeatable ? "; may be given more than once" : "");
    if (!d.defaultValue.empty() && !d.valueName.empty()) out += " (default " + d.defaultValue + ")";
    out += "\n";
  }
  return out;
}

}  // namespace walstream::cli
