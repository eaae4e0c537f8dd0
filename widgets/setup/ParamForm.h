#pragma once

#include "core/tuning/StrategyInfo.h"

#include <QMap>
#include <QWidget>

class QFormLayout;

namespace tunebench {

// A form generated from a ParamSchema: a spin box, check box, choice or line per option, each with the
// option's help, range and default as its tooltip. Editors are named "option_<name>".
class ParamForm : public QWidget
{
    Q_OBJECT

public:
    explicit ParamForm(QWidget* parent = nullptr);

    // Rebuilds the form; `values` (an object) overrides the schema's defaults where it names a field.
    void setSchema(const ParamSchema& schema, const nlohmann::json& values);
    // The current values, typed as the schema says.
    nlohmann::json values() const;
    // Sets one option; false when the form has no such option.
    bool setValue(const QString& name, const nlohmann::json& value);
    void retranslate();

Q_SIGNALS:
    void changed();

private:
    QFormLayout* m_form = nullptr;
    ParamSchema m_schema;
    QMap<QString, QWidget*> m_editors;
};

} // namespace tunebench
