#include "widgets/setup/ParamForm.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QLabel>
#include <QLineEdit>
#include <QSpinBox>

#include <cmath>

namespace tunebench {

ParamForm::ParamForm(QWidget* parent)
    : QWidget(parent)
{
    m_form = new QFormLayout(this);
}

void ParamForm::setSchema(const ParamSchema& schema, const nlohmann::json& values)
{
    while (m_form->rowCount() > 0)
        m_form->removeRow(0);
    m_editors.clear();
    m_schema = schema;
    for (const ParamField& field : schema) {
        const QString key = QString::fromStdString(field.name);
        const bool bounded = field.max > field.min;
        QWidget* editor = nullptr;
        switch (field.type) {
        case ParamField::Type::Int: {
            auto* spin = new QSpinBox(this);
            spin->setRange(bounded ? int(field.min) : -1000000000, bounded ? int(field.max) : 1000000000);
            connect(spin, &QSpinBox::valueChanged, this, &ParamForm::changed);
            editor = spin;
            break;
        }
        case ParamField::Type::Double: {
            auto* spin = new QDoubleSpinBox(this);
            spin->setDecimals(6);
            spin->setRange(bounded ? field.min : -1e9, bounded ? field.max : 1e9);
            const double value = field.defaultValue.is_number() ? field.defaultValue.get<double>() : 0.0;
            spin->setSingleStep(value != 0 ? std::pow(10.0, std::floor(std::log10(std::abs(value)))) : 0.1);
            connect(spin, &QDoubleSpinBox::valueChanged, this, &ParamForm::changed);
            editor = spin;
            break;
        }
        case ParamField::Type::Bool: {
            auto* check = new QCheckBox(this);
            connect(check, &QCheckBox::toggled, this, &ParamForm::changed);
            editor = check;
            break;
        }
        case ParamField::Type::Choice: {
            auto* combo = new QComboBox(this);
            for (const auto& choice : field.choices)
                combo->addItem(QString::fromStdString(choice));
            connect(combo, &QComboBox::currentIndexChanged, this, &ParamForm::changed);
            editor = combo;
            break;
        }
        case ParamField::Type::Text: {
            auto* line = new QLineEdit(this);
            line->setPlaceholderText(QString::fromStdString(field.help).left(40));
            connect(line, &QLineEdit::editingFinished, this, &ParamForm::changed);
            editor = line;
            break;
        }
        }
        editor->setObjectName("option_" + key);
        m_form->addRow(new QLabel(key, this), editor);
        m_editors.insert(key, editor);
        const QSignalBlocker blocker(editor);
        const bool given = values.is_object() && values.contains(field.name);
        if (!given || !setValue(key, values[field.name]))
            setValue(key, field.defaultValue);
    }
    if (schema.empty())
        m_form->addRow(new QLabel(this));
    retranslate();
}

nlohmann::json ParamForm::values() const
{
    nlohmann::json out = nlohmann::json::object();
    for (auto it = m_editors.begin(); it != m_editors.end(); ++it) {
        const std::string name = it.key().toStdString();
        QWidget* editor = it.value();
        if (auto* spin = qobject_cast<QSpinBox*>(editor))
            out[name] = spin->value();
        else if (auto* dspin = qobject_cast<QDoubleSpinBox*>(editor))
            out[name] = dspin->value();
        else if (auto* check = qobject_cast<QCheckBox*>(editor))
            out[name] = check->isChecked();
        else if (auto* combo = qobject_cast<QComboBox*>(editor))
            out[name] = combo->currentText().toStdString();
        else if (auto* line = qobject_cast<QLineEdit*>(editor))
            out[name] = line->text().toStdString();
    }
    return out;
}

bool ParamForm::setValue(const QString& name, const nlohmann::json& value)
{
    QWidget* editor = m_editors.value(name);
    if (auto* spin = qobject_cast<QSpinBox*>(editor)) {
        if (!value.is_number_integer())
            return false;
        spin->setValue(value.get<int>());
    } else if (auto* dspin = qobject_cast<QDoubleSpinBox*>(editor)) {
        if (!value.is_number())
            return false;
        dspin->setValue(value.get<double>());
    } else if (auto* check = qobject_cast<QCheckBox*>(editor)) {
        if (!value.is_boolean())
            return false;
        check->setChecked(value.get<bool>());
    } else if (auto* combo = qobject_cast<QComboBox*>(editor)) {
        if (!value.is_string() || combo->findText(QString::fromStdString(value.get<std::string>())) < 0)
            return false;
        combo->setCurrentText(QString::fromStdString(value.get<std::string>()));
    } else if (auto* line = qobject_cast<QLineEdit*>(editor)) {
        if (!value.is_string())
            return false;
        line->setText(QString::fromStdString(value.get<std::string>()));
        Q_EMIT changed();  // a line edit reports only finished editing
    } else {
        return false;
    }
    return true;
}

void ParamForm::retranslate()
{
    if (m_schema.empty()) {
        if (m_form->rowCount() > 0)
            if (auto* label = qobject_cast<QLabel*>(m_form->itemAt(0, QFormLayout::SpanningRole) ? m_form->itemAt(0, QFormLayout::SpanningRole)->widget()
                                                                                                 : nullptr))
                label->setText(tr("This method has no options."));
        return;
    }
    for (int row = 0; row < m_form->rowCount() && row < int(m_schema.size()); ++row) {
        const ParamField& field = m_schema[row];
        QString tip = QString::fromStdString(field.help);
        if (field.max > field.min)
            tip += "\n" + tr("Range: %1 to %2").arg(field.min).arg(field.max);
        tip += "\n" + tr("Default: %1").arg(QString::fromStdString(field.defaultValue.dump()));
        for (auto role : {QFormLayout::LabelRole, QFormLayout::FieldRole})
            if (QLayoutItem* item = m_form->itemAt(row, role))
                item->widget()->setToolTip(tip);
    }
}

} // namespace tunebench
