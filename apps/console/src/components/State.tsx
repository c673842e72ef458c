/**
 * A state as a word with a colour: the word carries the meaning (screen readers, colour-blind
 * readers, a black-and-white print), the colour only helps scanning.
 */
export function State({ state }: { state: string }) {
  return <span class={`state state-${state}`}>{state.replace('_', ' ')}</span>;
}
