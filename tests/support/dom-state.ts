/// <reference lib="dom" />  // callbacks of page.evaluate run in the browser
import type { Locator } from 'playwright-core';

/** Whether the element has the keyboard focus. */
export const isFocused = (locator: Locator) => locator.evaluate((element) => element === document.activeElement);

/** The element's accessible description: the text of what its aria-describedby names. */
export const descriptionOf = (locator: Locator) =>
  locator.evaluate((element) =>
    (element.getAttribute('aria-describedby') ?? '')
      .split(/\s+/)
      .filter(Boolean)
      .map((id) => document.getElementById(id)?.textContent?.trim() ?? '')
      .join(' '),
  );
