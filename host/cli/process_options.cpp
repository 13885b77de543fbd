#include "cli/process_options.hpp"

#include <map>

#include "laueproc/error.hpp"
#include "laueproc/settings.hpp"

namespace laueproc::cli {

// The options come from the settings table (laueproc/settings.hpp) that the Python module
// reads too, so both spell, document and check every setting the same way.
void add_config_options(po::options_description& options, ProcessConfig& c, std::string& background_method) {
  std::vector<std::string> order;  // sections in table order
  std::map<std::string, po::options_description> sections;
  for (const auto& spec : setting_specs()) {
    if (!sections.count(spec.group)) {
      sections.emplace(spec.group, po::options_description(spec.group));
      order.push_back(spec.group);
    }
    po::options_description& section = sections.at(spec.group);
    struct Bind {
      const SettingSpec& spec;
      po::options_description& section;
      std::string& background_method;
      void operator()(double* v) const { section.add_options()(spec.option, with_default(v), spec.help); }
      void operator()(int* v) const { section.add_options()(spec.option, with_default(v), spec.help); }
      void operator()(bool* v) const {
        const bool inverted = spec.inverted;
        section.add_options()(spec.option, po::bool_switch()->notifier([v, inverted](bool given) {
          if (given) *v = !inverted;
        }), spec.help);
      }
      void operator()(std::string* v) const { section.add_options()(spec.option, po::value(v), spec.help); }
      void operator()(BackgroundMethod*) const {
        section.add_options()(spec.option, po::value(&background_method)->default_value("block"), spec.help);
      }
    };
    std::visit(Bind{spec, section, background_method}, spec.field(c));
  }
  for (const auto& name : order) options.add(sections.at(name));
}

void finish_config(ProcessConfig& c, const std::string& background_method) {
  set_setting(c, "background", background_method);
  validate(c);
}

}  // namespace laueproc::cli
