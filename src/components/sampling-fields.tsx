import { useState } from 'react';
import { expectedParam, GUIDE_NAMES, parseParam, SAMPLER_CHOICES, SAMPLER_NAMES, type NumericParam, type StudioParams } from '@/lib/url-params';
import { GUIDES } from '@/sampling/heun';

type SetParam = <K extends keyof StudioParams>(key: K, value: StudioParams[K]) => void;

const NUMBER_FIELDS: { key: NumericParam; label: string; decimal: boolean; title?: string }[] = [
  { key: 'seed', label: 'Seed', decimal: false },
  { key: 'steps', label: 'Steps', decimal: false },
  { key: 'guidance', label: 'Guidance', decimal: true, title: 'classifier-free guidance scale w (used only when a class is chosen)' },
  { key: 'batch', label: 'Batch', decimal: false },
];

/**
 * What the user is typing into the number fields. A field holds its text as typed; the text is
 * read (`parseParam`, the URL's rule) when the field is left or the form is submitted, and a bad
 * value stays in the field, marked invalid with a message, instead of being replaced.
 */
export interface SamplingDrafts {
  text: Partial<Record<NumericParam, string>>;
  errors: Partial<Record<NumericParam, string>>;
  edit: (key: NumericParam, text: string) => void;
  /** Reads one field's text into the parameters; false when it is invalid. */
  commit: (key: NumericParam) => boolean;
  /** Reads every field; the first invalid field, or null when all are valid. */
  commitAll: () => NumericParam | null;
}

export function useSamplingDrafts(setParam: SetParam): SamplingDrafts {
  const [text, setText] = useState<SamplingDrafts['text']>({});
  const [errors, setErrors] = useState<SamplingDrafts['errors']>({});
  const read = (key: NumericParam, raw: string | undefined): boolean => {
    if (raw === undefined) return true;
    const parsed = parseParam(key, raw);
    if ('error' in parsed) {
      setErrors((e) => ({ ...e, [key]: parsed.error }));
      return false;
    }
    setParam(key, parsed.value);
    setText((t) => ({ ...t, [key]: undefined }));
    setErrors((e) => ({ ...e, [key]: undefined }));
    return true;
  };
  return {
    text,
    errors,
    edit: (key, value) => {
      setText((t) => ({ ...t, [key]: value }));
      // A fixed value clears its message at once, so that leaving the field moves nothing on the page.
      if (errors[key] && !('error' in parseParam(key, value))) setErrors((e) => ({ ...e, [key]: undefined }));
    },
    commit: (key) => read(key, text[key]),
    commitAll: () => {
      let first: NumericParam | null = null;
      for (const { key } of NUMBER_FIELDS) if (!read(key, text[key]) && first === null) first = key;
      return first;
    },
  };
}

/**
 * The sampling parameters shared by the studio and the compare view: sampler, seed, steps, class
 * (or none), guidance, where guidance applies, and batch, read with the same rule and LIMITS as the URL.
 */
export function SamplingFields({ params, classes, disabled, drafts, setParam }: {
  params: StudioParams;
  classes: readonly string[];
  disabled: boolean;
  drafts: SamplingDrafts;
  setParam: SetParam;
}) {
  const field = ({ key, label, decimal, title }: (typeof NUMBER_FIELDS)[number]) => {
    const error = drafts.errors[key];
    return (
      <label className={error ? 'field invalid' : 'field'} key={key} title={title ?? expectedParam(key)}>
        <span>{label}</span>
        <input
          data-testid={key}
          type="text"
          inputMode={decimal ? 'decimal' : 'numeric'}
          autoComplete="off"
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? `${key}-error` : undefined}
          value={drafts.text[key] ?? String(params[key])}
          disabled={disabled}
          onChange={(e) => drafts.edit(key, e.target.value)}
          onBlur={() => drafts.commit(key)}
        />
        {error && (
          <small className="field-error" id={`${key}-error`} data-testid={`${key}-error`} role="alert">
            {error}
          </small>
        )}
      </label>
    );
  };
  return (
    <>
      <ChoiceField
        name="sampler"
        label="Sampler"
        title="EDM Heun: 2 model evaluations per step (2N−1 in all); DPM-Solver++(2M): 1 per step, about the same images from far fewer evaluations"
        value={params.sampler}
        choices={SAMPLER_NAMES.map((name) => [name, SAMPLER_CHOICES[name].label])}
        disabled={disabled}
        onChange={(value) => setParam('sampler', value)}
      />
      {NUMBER_FIELDS.slice(0, 2).map(field)}
      <label className="field">
        <span>Class</span>
        <select
          data-testid="class"
          value={params.classLabel === null ? 'none' : String(params.classLabel)}
          disabled={disabled}
          onChange={(e) => setParam('classLabel', e.target.value === 'none' ? null : Number(e.target.value))}
        >
          <option value="none">none (unconditional)</option>
          {classes.map((name, i) => (
            <option key={name} value={i}>
              {i} · {name}
            </option>
          ))}
        </select>
      </label>
      {NUMBER_FIELDS.slice(2, 3).map(field)}
      <ChoiceField
        name="guide"
        label="Guide at"
        title={`Where guidance applies (with a class and guidance ≠ 1): ${GUIDE_NAMES.map((name) => GUIDES[name].label).join(' or ')}. Outside it a step runs the network once instead of twice (conditional only); the interval leaves out the noisiest steps, at the same measured quality.`}
        value={params.guide}
        choices={GUIDE_NAMES.map((name) => [name, GUIDES[name].label])}
        disabled={disabled}
        onChange={(value) => setParam('guide', value)}
      />
      {NUMBER_FIELDS.slice(3).map(field)}
    </>
  );
}

/** A labelled select over fixed choices ([value, label] pairs), e.g. the sampler. */
function ChoiceField<T extends string>({ name, label, title, value, choices, disabled, onChange }: {
  name: string;
  label: string;
  title: string;
  value: T;
  choices: [T, string][];
  disabled: boolean;
  onChange: (value: T) => void;
}) {
  return (
    <label className="field" title={title}>
      <span>{label}</span>
      <select data-testid={name} value={value} disabled={disabled} onChange={(e) => onChange(e.target.value as T)}>
        {choices.map(([choice, text]) => (
          <option key={choice} value={choice}>
            {text}
          </option>
        ))}
      </select>
    </label>
  );
}

/** Focuses a sampling field (the first invalid one after a refused submit). */
export function focusField(form: HTMLFormElement | null, key: NumericParam): void {
  form?.querySelector<HTMLInputElement>(`[data-testid="${key}"]`)?.focus();
}
