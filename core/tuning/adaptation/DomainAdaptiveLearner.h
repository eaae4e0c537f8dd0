#pragma once

namespace tunebench {

// Which domain's classifier an adapting strategy scores with.
enum class AdaptationSide { Source, Target };

// What the domain-adaptation protocol needs from a strategy besides Strategy itself (capability
// `adaptsToTarget`). Its training batches hold labelled source images and unlabelled target images
// (label -1); logits() scores with the target's classifier unless told otherwise.
class DomainAdaptiveLearner
{
public:
    virtual ~DomainAdaptiveLearner() = default;
    virtual void setInferenceSide(AdaptationSide side) = 0;
};

} // namespace tunebench
